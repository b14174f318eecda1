import { describe, expect, it } from 'vitest';
import { EmbeddingSpaceMap } from '../../src/esm/esm.js';
import { seededUniform, standardNormal } from '../../src/random.js';
import { classMeanDirections, classMeanGain, sketchEsm } from '../../src/retrieval/esm-sketch.js';
import { meanDirection } from '../../src/retrieval/textemb.js';
import { encodeLabels, labelColumns } from '../../src/task/labels.js';
import { esmConfig } from '../helpers/pool.js';
import { randomGenerator } from '../helpers/random.js';

const DIM = 24;

function mapOf(weight: Float32Array, bias: Float32Array = new Float32Array(DIM)): EmbeddingSpaceMap {
  return new EmbeddingSpaceMap(esmConfig('test/map', DIM), weight, bias);
}

/** I + (g − 1) u uᵀ: stretches the unit direction u by g, leaves the rest. */
function stretch(u: Float64Array, g: number): Float32Array {
  return Float32Array.from({ length: DIM * DIM }, (_, i) => (i % (DIM + 1) === 0 ? 1 : 0) + (g - 1) * u[Math.floor(i / DIM)] * u[i % DIM]);
}

function unit(v: ArrayLike<number>): Float64Array {
  const norm = Math.hypot(...Array.from(v));
  return Float64Array.from(v, (x) => x / norm);
}

/** Two classes whose means differ along a known direction. */
function twoClasses(seed: number) {
  const rng = randomGenerator(seed);
  const rows = 200;
  const along = unit(rng.normals(DIM));
  const labels = Array.from({ length: rows }, (_, i) => (i < 120 ? 0 : 1));
  const data = rng.normals(rows * DIM);
  labels.forEach((y, i) => {
    for (let k = 0; k < DIM; k++) data[i * DIM + k] += (y === 1 ? 3 : 0) * along[k];
  });
  return { embeddings: { rows, dim: DIM, data }, labels, along };
}

describe('TextEmb', () => {
  it('is the mean embedding scaled to unit length', () => {
    const rng = randomGenerator(1);
    const data = rng.normals(50 * DIM);
    const direction = meanDirection({ rows: 50, dim: DIM, data });
    const mean = Array.from({ length: DIM }, (_, k) => Array.from({ length: 50 }, (_, i) => data[i * DIM + k]).reduce((a, b) => a + b) / 50);
    expect(Math.hypot(...direction)).toBeCloseTo(1, 6);
    const scale = Math.hypot(...mean);
    direction.forEach((v, k) => expect(v).toBeCloseTo(mean[k] / scale, 6));
  });
});

describe('the ESM sketch', () => {
  it('is S·W to the bit, summed over j in order, for any number of sketch rows', () => {
    const weight = randomGenerator(11).normals(DIM * DIM);
    for (const rows of [32, 7]) {
      const sketch = sketchEsm(mapOf(weight), rows, 3);
      // S as esm-sketch.ts draws it; the product row by row is the definition.
      const uniform = seededUniform(3);
      const s = Float64Array.from({ length: rows * DIM }, () => standardNormal(uniform));
      const expected = new Float64Array(rows * DIM);
      for (let r = 0; r < rows; r++) for (let j = 0; j < DIM; j++) for (let k = 0; k < DIM; k++) expected[r * DIM + k] += s[r * DIM + j] * weight[j * DIM + k];
      expect(sketch.rows).toBe(rows);
      expect(Array.from(sketch.sketch)).toEqual(Array.from(Float32Array.from(expected)));
    }
  });
});

describe('the ESM class-means first stage', () => {
  it("finds the direction a class's mean stands apart in: p(1 − p)(μ_c − μ_rest)", () => {
    const { embeddings, labels } = twoClasses(2);
    const [delta] = classMeanDirections(embeddings, labelColumns(encodeLabels(labels, 'classification')));
    const mean = (cls: number) => {
      const rows = labels.map((y, i) => (y === cls ? i : -1)).filter((i) => i >= 0);
      return Array.from({ length: DIM }, (_, k) => rows.reduce((s, i) => s + embeddings.data[i * DIM + k], 0) / rows.length);
    };
    const [mu0, mu1] = [mean(0), mean(1)];
    const p = 120 / 200;
    // Column 0 is the indicator of class 0.
    delta.forEach((v, k) => expect(v).toBeCloseTo(p * (1 - p) * (mu0[k] - mu1[k]), 6));
  });

  it('rates a map that stretches the class-mean direction above one that stretches another, whatever its scale and bias', () => {
    const { embeddings, labels, along } = twoClasses(3);
    const directions = classMeanDirections(embeddings, labelColumns(encodeLabels(labels, 'classification')));
    const gain = (weight: Float32Array, bias?: Float32Array) => classMeanGain(sketchEsm(mapOf(weight, bias)), directions);
    // A direction orthogonal to the class-mean one.
    const r = Float64Array.from(randomGenerator(4).normals(DIM));
    const overlap = r.reduce((s, x, k) => s + x * along[k], 0);
    const across = unit(r.map((x, k) => x - overlap * along[k]));
    const identity = gain(stretch(along, 1));
    const useful = gain(stretch(along, 4));
    const useless = gain(stretch(across, 4));
    expect(useful).toBeGreaterThan(4 * identity);
    expect(useless).toBeLessThan(identity);
    const scaled = stretch(along, 4).map((w) => 7 * w);
    expect(gain(scaled, randomGenerator(5).normals(DIM))).toBeCloseTo(useful, 4);
  });
});
