import type { EmbeddingSpaceMap } from '../esm/esm.js';
import { crossProduct } from '../linalg/matrix.js';
import { symmetricSpectrum } from '../linalg/spectrum.js';
import { evidenceFromSpectrum } from '../logme/evidence.js';
import { logme } from '../logme/logme.js';
import type { PreparedTarget } from './target.js';

/**
 * ESM-LogME the straightforward way, as hfselect computes it: F = ESM(X), then LogME(F, y).
 * Kept as the yardstick for the fast path.
 */
export function esmLogmeDirect(target: PreparedTarget, esm: EmbeddingSpaceMap): number {
  const { rows, dim, data } = target.embeddings;
  return logme({ rows, cols: dim, data: esm.apply(data, rows) }, target.labels);
}

/**
 * ESM-LogME from the target's factorisation (see PreparedTarget): M = R P W̃ᵀ, FᵀF = MᵀM,
 * Fᵀy = W̃ (X̃ᵀy). Equal to `esmLogmeDirect` up to rounding; the work does not grow with N.
 */
export function esmLogme(target: PreparedTarget, esm: EmbeddingSpaceMap): number {
  if (!target.gram) return esmLogmeDirect(target, esm);
  const { factor, xty } = target.gram;
  const { r, rank, perm } = factor;
  const d = esm.dim;
  const m = d + 1;
  const { weight, bias } = esm;

  // Wp[a][j] = W̃[j][perm[a]]: the rows of W̃ᵀ in pivot order.
  const wp = new Float64Array(m * d);
  for (let a = 0; a < m; a++) {
    const col = perm[a];
    const out = a * d;
    if (col === d) for (let j = 0; j < d; j++) wp[out + j] = bias[j];
    else for (let j = 0; j < d; j++) wp[out + j] = weight[j * d + col];
  }
  const mData = new Float64Array(rank * d);
  for (let i = 0; i < rank; i++) {
    const out = i * d;
    for (let a = i; a < m; a++) {
      const ria = r[i * m + a];
      if (ria === 0) continue;
      const src = a * d;
      for (let j = 0; j < d; j++) mData[out + j] += ria * wp[src + j];
    }
  }
  const ftf = crossProduct({ rows: rank, cols: d, data: mData });
  const { rows: n } = target.embeddings;
  return evidenceFromSpectrum(symmetricSpectrum(ftf, featureLabelProducts(esm, xty)), target.columnNormsSq, n, d, 'features');
}

/** Fᵀy = W̃ (X̃ᵀy) for each label column: the vectors projected on the eigenvectors of FᵀF. */
export function featureLabelProducts({ dim: d, weight, bias }: EmbeddingSpaceMap, xty: readonly Float64Array[]): Float64Array[] {
  return xty.map((v) => {
    const z = new Float64Array(d);
    for (let j = 0; j < d; j++) {
      let s = bias[j] * v[d];
      for (let k = 0; k < d; k++) s += weight[j * d + k] * v[k];
      z[j] = s;
    }
    return z;
  });
}
