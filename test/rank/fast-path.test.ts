import { describe, expect, it } from 'vitest';
import type { EmbeddingSpaceMap } from '../../src/esm/esm.js';
import { loadNativeAddon } from '../../src/native/addon.js';
import { esmLogme, esmLogmeDirect } from '../../src/rank/esm-logme.js';
import { nativeScorer } from '../../src/rank/native-scorer.js';
import { prepareTargetFor } from '../../src/rank/ranking.js';
import { prepareTarget } from '../../src/rank/target.js';
import { encodeClassLabels, encodeRegressionTargets, type Labels } from '../../src/task/labels.js';
import { ALLOW_NO_NATIVE } from '../helpers/native.js';
import { randomEsm } from '../helpers/pool.js';
import { randomGenerator } from '../helpers/random.js';

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

const relative = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);

// N > D and N ≤ D (including N = D and N = D + 1), degenerate targets, and sizes past the native
// kernels' block sizes (tridiagonal panels start above 128, GEMM tiles are 24×8).
const cases: [number, number, Shape][] = [
  [120, 16, 'full'],
  [10, 16, 'full'],
  [16, 16, 'full'],
  [17, 16, 'full'],
  [200, 24, 'rank-deficient'],
  [12, 24, 'rank-deficient'],
  [150, 20, 'constant-columns'],
  [8, 20, 'constant-columns'],
  [400, 170, 'full'],
  [150, 170, 'full'],
  [300, 170, 'rank-deficient'],
  [260, 131, 'constant-columns'],
];

const native = loadNativeAddon();
const scorer = 'addon' in native ? nativeScorer(native.addon, 2) : undefined;

function classLabels(n: number): Labels {
  return encodeClassLabels(Array.from({ length: n }, (_, i) => ['a', 'b', 'c'][i % 3]));
}

async function checkAllPaths(x: Float32Array, n: number, d: number, labels: Labels, esms: EmbeddingSpaceMap[]): Promise<void> {
  const target = prepareTarget({ rows: n, dim: d, data: x }, labels);
  const direct = esms.map((esm) => esmLogmeDirect(target, esm));
  const fast = esms.map((esm) => esmLogme(target, esm));
  fast.forEach((score, i) => {
    expect(Number.isFinite(score)).toBe(true);
    expect(relative(score, direct[i])).toBeLessThanOrEqual(1e-8);
  });
  if (!scorer) return;
  // The native scorer prepares its own target (native Gram and pivoted Cholesky) and matches the
  // TypeScript fast path to rounding.
  const nativeTarget = await prepareTargetFor(scorer, { rows: n, dim: d, data: x }, labels);
  expect(nativeTarget.gram?.factor.rank).toBe(target.gram?.factor.rank);
  const scores = await scorer.score(nativeTarget, esms);
  scores.forEach((score, i) => expect(relative(score, fast[i])).toBeLessThanOrEqual(1e-10));
}

describe('fast ESM-LogME (TypeScript and native) equals the straightforward computation', () => {
  // CI has a compiler, so there a missing or unloadable addon fails the run (every native check
  // below would otherwise skip silently); ESMSELECT_ALLOW_NO_NATIVE=1 is for machines without one.
  it.skipIf(!scorer && ALLOW_NO_NATIVE)(
    `the native addon loads${'problem' in native ? ` (unavailable: ${native.problem}; ESMSELECT_ALLOW_NO_NATIVE=1 skips the native checks)` : ''}`,
    () => {
      expect(
        'problem' in native ? `the addon is unavailable (${native.problem}); ESMSELECT_ALLOW_NO_NATIVE=1 is only for machines that cannot build it` : 'loaded',
      ).toBe('loaded');
      expect(scorer?.name).toBe('native');
    },
  );

  for (const [n, d, shape] of cases) {
    it(`classification, N=${n}, D=${d}, ${shape}`, async () => {
      const esms = [0, 1, 2].map((seed) => randomEsm(`t${seed}`, d, seed + 7 + d));
      await checkAllPaths(targetEmbeddings(n, d, shape, n * d), n, d, classLabels(n), esms);
    });
  }

  it('regression with two targets, N > D and N ≤ D', async () => {
    for (const [n, d] of [
      [90, 12],
      [10, 12],
    ]) {
      const rng = randomGenerator(11);
      const x = targetEmbeddings(n, d, 'full', 3);
      const y = Array.from({ length: n }, (_, i) => [x[i * d] - x[i * d + 1] + 0.1 * rng.normal(), rng.normal()]);
      await checkAllPaths(x, n, d, encodeRegressionTargets(y), [randomEsm('r', d, 5)]);
    }
  });

  it.skipIf(!scorer)('native: a batch spread over threads scores each ESM as alone', async () => {
    const [n, d] = [60, 24];
    const target = await prepareTargetFor(scorer!, { rows: n, dim: d, data: targetEmbeddings(n, d, 'full', 1) }, classLabels(n));
    const esms = Array.from({ length: 9 }, (_, i) => randomEsm(`b${i}`, d, 100 + i));
    const together = await scorer!.score(target, esms);
    const alone = await Promise.all(esms.map(async (esm) => (await scorer!.score(target, [esm]))[0]));
    expect(together).toEqual(alone);
    expect(new Set(together).size).toBe(esms.length);
  });
});

describe.skipIf(!('addon' in native))('native addon arguments', () => {
  const addon = 'addon' in native ? native.addon : undefined;
  it('rejects mis-sized or mistyped arrays with a TypeError instead of reading past them', () => {
    const x = new Float32Array(12);
    expect(() => addon!.factorTarget(x, 4, 4, [new Float64Array(4)])).toThrow(/x has 12 elements, expected 16/);
    expect(() => addon!.factorTarget(x, 4, 3, [new Float64Array(3)])).toThrow(/columns\[0\] has 3 elements, expected 4/);
    expect(() => addon!.sampleSpectra(x, 4, 3, [new Float64Array(4)], [new Float32Array(9)], [new Float64Array(3) as never], 1)).toThrow(
      /biases\[0\] has the wrong array type/,
    );
    expect(() => addon!.featureSpectra(3, new Float64Array(16), 4, Int32Array.of(0, 1, 2, 7), [new Float64Array(4)], [], [], 1)).toThrow(
      /perm holds an index outside/,
    );
  });
});
