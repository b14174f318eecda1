import { afterEach, describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import { loadNativeAddon } from '../../src/native/addon.js';
import { esmLogmeDirect } from '../../src/rank/esm-logme.js';
import { prepareTargetFor } from '../../src/rank/ranking.js';
import { selectScorer } from '../../src/rank/scorers.js';
import { prepareTarget } from '../../src/rank/target.js';
import { encodeClassLabels } from '../../src/task/labels.js';
import { randomEsm } from '../helpers/pool.js';
import { randomGenerator } from '../helpers/random.js';

const saved = { ...process.env };
afterEach(() => {
  for (const key of ['ESMSELECT_SCORER', 'ESMSELECT_THREADS', 'ESMSELECT_BACKEND']) {
    if (saved[key] === undefined) delete process.env[key];
    else process.env[key] = saved[key];
  }
});

describe('selectScorer', () => {
  it('picks the native scorer when its addon loads, else TypeScript, and says which', async () => {
    delete process.env.ESMSELECT_SCORER;
    const { scorer, description } = await selectScorer({ threads: 3 });
    const native = loadNativeAddon();
    if ('addon' in native) {
      expect(scorer.name).toBe('native');
      expect(description).toContain('3 threads');
    } else {
      expect(scorer.name).toBe('typescript');
      expect(description).toContain(native.problem);
    }
    expect(description).toContain('TensorFlow.js not used');
  });

  it('follows ESMSELECT_SCORER and ESMSELECT_THREADS', async () => {
    process.env.ESMSELECT_SCORER = 'typescript';
    expect((await selectScorer()).scorer.name).toBe('typescript');
    process.env.ESMSELECT_SCORER = 'native';
    process.env.ESMSELECT_THREADS = '1';
    if ('addon' in loadNativeAddon()) expect((await selectScorer()).description).toContain('1 thread)');
    else await expect(selectScorer()).rejects.toThrow(/native addon is unavailable/);
  });

  it('rejects unknown scorers and thread counts as user errors', async () => {
    process.env.ESMSELECT_SCORER = 'gpu';
    await expect(selectScorer()).rejects.toThrow(UserInputError);
    await expect(selectScorer()).rejects.toThrow(/ESMSELECT_SCORER=gpu is not one of auto, native, typescript, tfjs/);
    process.env.ESMSELECT_SCORER = 'typescript';
    process.env.ESMSELECT_THREADS = '0';
    await expect(selectScorer()).rejects.toThrow(/ESMSELECT_THREADS=0 is not a positive integer/);
  });
});

describe('tfjs scorer (float32 products) on the CPU backend', () => {
  for (const [n, d] of [
    [300, 40],
    [30, 40],
  ]) {
    it(`stays close to the float64 computation, N=${n}, D=${d}`, async () => {
      process.env.ESMSELECT_BACKEND = 'cpu';
      const { scorer, description } = await selectScorer({ scorer: 'tfjs', threads: 2 });
      expect(description).toContain('TensorFlow.js backend: cpu');
      const rng = randomGenerator(n);
      const embeddings = { rows: n, dim: d, data: rng.normals(n * d) };
      const labels = encodeClassLabels(Array.from({ length: n }, (_, i) => i % 4));
      const esms = Array.from({ length: 5 }, (_, i) => randomEsm(`t${i}`, d, 40 + i));
      const target = await prepareTargetFor(scorer, embeddings, labels);
      const scores = await scorer.score(target, esms);
      const reference = prepareTarget(embeddings, labels);
      const direct = esms.map((esm) => esmLogmeDirect(reference, esm));
      const deviations = scores.map((s, i) => Math.abs(s - direct[i]) / Math.abs(direct[i]));
      for (const deviation of deviations) expect(deviation).toBeLessThanOrEqual(1e-4);
    });
  }
});
