import type { EmbeddingSpaceMap } from '../esm/esm.js';
import type { Embeddings } from '../io/embeddings.js';
import { seededUniform, standardNormal } from '../random.js';
import type { EsmSketch } from '../store/esm-sketches.js';

/** Rows of the sketch: the relative error of ‖SWδ‖²/rows as an estimate of ‖Wδ‖² is about √(2/rows). */
export const SKETCH_ROWS = 32;
/** The seed of S. Sketches made with another seed or row count are not comparable and are made again. */
export const SKETCH_SEED = 0x5eed;
/** The shape of the sketches made now: the registry's are of this shape, or are made again. */
export const SKETCH_SHAPE = { rows: SKETCH_ROWS, seed: SKETCH_SEED } as const;

const matrices = new Map<string, Float64Array>();

/** S for (rows, dim, seed), made once per process. */
function sketchMatrix(rows: number, dim: number, seed: number): Float64Array {
  const key = `${rows}:${dim}:${seed}`;
  let s = matrices.get(key);
  if (!s) {
    const uniform = seededUniform(seed);
    s = Float64Array.from({ length: rows * dim }, () => standardNormal(uniform));
    matrices.set(key, s);
  }
  return s;
}

/**
 * (S·W)[r][k] = Σⱼ S[r][j] W[j][k] with W stored [out, in]: rows·D² multiply-adds. W is read once,
 * a row at a time, into four output rows at once (each sum still taken over j in order, so the
 * result is the same to the bit as row by row): the weights stream through the cache once instead
 * of once per sketch row.
 */
export function sketchEsm(esm: EmbeddingSpaceMap, rows = SKETCH_ROWS, seed = SKETCH_SEED): EsmSketch {
  const { dim, weight } = esm;
  const s = sketchMatrix(rows, dim, seed);
  const out = new Float64Array(rows * dim);
  const grouped = rows - (rows % 4);
  for (let j = 0; j < dim; j++) {
    const wj = weight.subarray(j * dim, (j + 1) * dim);
    for (let r = 0; r < grouped; r += 4) {
      const [s0, s1, s2, s3] = [s[r * dim + j], s[(r + 1) * dim + j], s[(r + 2) * dim + j], s[(r + 3) * dim + j]];
      const o0 = r * dim;
      const o1 = o0 + dim;
      const o2 = o1 + dim;
      const o3 = o2 + dim;
      for (let k = 0; k < dim; k++) {
        const w = wj[k];
        out[o0 + k] += s0 * w;
        out[o1 + k] += s1 * w;
        out[o2 + k] += s2 * w;
        out[o3 + k] += s3 * w;
      }
    }
    for (let r = grouped; r < rows; r++) {
      const srj = s[r * dim + j];
      const o = r * dim;
      for (let k = 0; k < dim; k++) out[o + k] += srj * wj[k];
    }
  }
  let frobeniusSq = 0;
  for (let i = 0; i < weight.length; i++) frobeniusSq += weight[i] * weight[i];
  return { rows, seed, dim, frobeniusSq, sketch: Float32Array.from(out) };
}

/**
 * The target's class-mean directions, one per LogME label column y (one-vs-rest indicator or
 * regression target): δ = Xᵀ(y − ȳ)/N = Σᵢ (yᵢ − ȳ) xᵢ / N. For a class c with share p this is
 * p(1 − p)(μ_c − μ_rest): the direction its mean stands apart in; the ESM's bias cancels out of it.
 */
export function classMeanDirections({ rows, dim, data }: Embeddings, columns: readonly Float64Array[]): Float64Array[] {
  return columns.map((y) => {
    let mean = 0;
    for (let i = 0; i < rows; i++) mean += y[i];
    mean /= rows;
    const delta = new Float64Array(dim);
    for (let i = 0; i < rows; i++) {
      const w = (y[i] - mean) / rows;
      if (w === 0) continue;
      for (let k = 0; k < dim; k++) delta[k] += w * data[i * dim + k];
    }
    return delta;
  });
}

/**
 * The class-means first-stage score of an ESM for a target: how much the map stretches the
 * directions that separate the target's classes, relative to how much it stretches an average
 * direction,
 *   gain = Σⱼ ‖W δⱼ‖² / ((‖W‖²_F / D) Σⱼ ‖δⱼ‖²),
 * with ‖Wδ‖² estimated as ‖(SW)δ‖²/rows (E‖Sv‖² = rows·‖v‖² for Gaussian S; Johnson–Lindenstrauss)
 * and E‖Wu‖² = ‖W‖²_F/D for a random unit u. LogME rewards features whose label-related directions
 * stand out, which is what a gain above 1 means; the within-class spread it also weighs is left out.
 */
export function classMeanGain(sketch: EsmSketch, directions: readonly Float64Array[]): number {
  const { rows, dim, frobeniusSq } = sketch;
  let stretched = 0;
  let plain = 0;
  for (const delta of directions) {
    for (let r = 0; r < rows; r++) {
      const offset = r * dim;
      let z = 0;
      for (let k = 0; k < dim; k++) z += sketch.sketch[offset + k] * delta[k];
      stretched += z * z;
    }
    for (let k = 0; k < dim; k++) plain += delta[k] * delta[k];
  }
  const denominator = (frobeniusSq / dim) * plain * rows;
  return denominator > 0 ? stretched / denominator : 0;
}
