import { describe, expect, it } from 'vitest';
import { encodeClassLabels, encodeRegressionTargets } from '../src/logme/labels.js';
import { esmLogme, esmLogmeDirect } from '../src/rank/esm-logme.js';
import { prepareTarget } from '../src/rank/target.js';
import { randomEsm } from './helpers/pool.js';
import { randomGenerator } from './helpers/random.js';

type Shape = 'full' | 'rank-deficient' | 'constant-columns';

/** Target embeddings with a mean offset, as real encoders produce, optionally degenerate. */
function targetEmbeddings(n: number, d: number, shape: Shape, seed: number): Float32Array {
  const rng = randomGenerator(seed);
  const x = rng.normals(n * d);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) x[i * d + k] += 0.5;
  if (shape === 'rank-deficient') {
    // Only 3 independent directions: every column is a copy of one of the first three, scaled.
    for (let i = 0; i < n; i++) for (let k = 3; k < d; k++) x[i * d + k] = x[i * d + (k % 3)] * (k % 2 ? 2 : -1);
  }
  if (shape === 'constant-columns') for (let i = 0; i < n; i++) for (const k of [0, d - 1]) x[i * d + k] = 0.25;
  return x;
}

const cases: [number, number, Shape][] = [
  [120, 16, 'full'],
  [10, 16, 'full'],
  [16, 16, 'full'],
  [17, 16, 'full'],
  [200, 24, 'rank-deficient'],
  [12, 24, 'rank-deficient'],
  [150, 20, 'constant-columns'],
  [8, 20, 'constant-columns'],
];

describe('fast ESM-LogME equals the straightforward computation', () => {
  for (const [n, d, shape] of cases) {
    it(`classification, N=${n}, D=${d}, ${shape}`, () => {
      const target = prepareTarget(
        { rows: n, dim: d, data: targetEmbeddings(n, d, shape, n * d) },
        encodeClassLabels(Array.from({ length: n }, (_, i) => ['a', 'b', 'c'][i % 3])),
      );
      for (let seed = 0; seed < 3; seed++) {
        const esm = randomEsm(`t${seed}`, d, seed + 7);
        const fast = esmLogme(target, esm);
        const direct = esmLogmeDirect(target, esm);
        expect(Number.isFinite(fast)).toBe(true);
        expect(Math.abs(fast - direct) / Math.abs(direct)).toBeLessThanOrEqual(1e-8);
      }
    });
  }

  it('regression with two targets, N > D', () => {
    const rng = randomGenerator(11);
    const n = 90;
    const d = 12;
    const x = targetEmbeddings(n, d, 'full', 3);
    const y = Array.from({ length: n }, (_, i) => [x[i * d] - x[i * d + 1] + 0.1 * rng.normal(), rng.normal()]);
    const target = prepareTarget({ rows: n, dim: d, data: x }, encodeRegressionTargets(y));
    const esm = randomEsm('r', d, 5);
    expect(Math.abs(esmLogme(target, esm) - esmLogmeDirect(target, esm)) / Math.abs(esmLogmeDirect(target, esm))).toBeLessThanOrEqual(1e-8);
  });
});
