import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelParameter, ParameterSpec } from '../../src/finetune/encoder.js';
import { createMaskingStrategy, type MaskSettings } from '../../src/finetune/masking/create.js';
import { DPS_DEFAULTS } from '../../src/finetune/masking/dps.js';
import { GMT_DEFAULTS } from '../../src/finetune/masking/gmt.js';
import { keptCount, magnitudeThreshold } from '../../src/finetune/masking/threshold.js';
import { loadTensorflow } from '../../src/tf/backend.js';
import { type MaskedEntries, TrainingOptimizer } from '../../src/tf/optimizer.js';
import { randomGenerator } from '../helpers/random.js';

beforeAll(async () => {
  await loadTensorflow();
});

/** The threshold by sorting, to check the radix select against. */
function sortedThreshold(values: Float32Array, keep: number): number {
  const magnitudes = Array.from(values, Math.abs).sort((a, b) => b - a);
  if (keep <= 0 || magnitudes.length === 0) return Infinity;
  const kth = magnitudes[Math.min(keep, magnitudes.length) - 1];
  if (kth > 0) return kth;
  const positive = magnitudes.filter((m) => m > 0);
  return positive.length ? positive[positive.length - 1] : Infinity;
}

describe('magnitudeThreshold', () => {
  it('finds the keep-th largest magnitude as sorting would, ties and zeros included', () => {
    const rng = randomGenerator(11);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + rng.integer(300);
      // Few distinct values (ties), zeros, both signs, magnitudes over many binades.
      const values = Float32Array.from({ length: n }, () => {
        const r = rng.uniform();
        if (r < 0.2) return 0;
        if (r < 0.4) return (rng.uniform() < 0.5 ? -1 : 1) * (1 + rng.integer(3));
        return rng.normal() * 10 ** (rng.integer(12) - 6);
      });
      const keep = rng.integer(n + 2);
      expect(magnitudeThreshold(values, keep), `trial ${trial}`).toBe(sortedThreshold(values, keep));
    }
  });

  it('keeps only the nonzero entries when there are more zeros than the fraction dropped', () => {
    // Keep 70% of 10 = 7, but only 3 entries are nonzero: τ is the smallest nonzero magnitude.
    const values = Float32Array.from([0, 0, 0.5, 0, 0, -0.25, 0, 0, 2, 0]);
    expect(magnitudeThreshold(values, keptCount(0.7, 10))).toBe(0.25);
    expect(magnitudeThreshold(new Float32Array(5), 3)).toBe(Infinity);
    expect(magnitudeThreshold(Float32Array.from([-0, 0]), 1)).toBe(Infinity);
  });

  it('counts ⌈fraction·n⌉ without floating-point overshoot', () => {
    expect(keptCount(0.7, 10)).toBe(7);
    expect(keptCount(0.7, 12)).toBe(9);
    expect(keptCount(0.7, 3)).toBe(3);
    expect(keptCount(0.01, 5)).toBe(1);
  });
});

/** A small model: one parameter of each kind and group, all zero, whose gradients the tests choose. */
const SPECS: ParameterSpec[] = [
  { name: 'embeddings.word_embeddings.weight', shape: [2, 3], kind: 'embedding', group: 'embeddings' },
  { name: 'encoder.layer.0.attention.self.query.weight', shape: [3, 4], kind: 'linear', group: 'encoder' },
  { name: 'encoder.layer.0.attention.self.query.bias', shape: [3], kind: 'bias', group: 'encoder' },
  { name: 'encoder.layer.0.output.LayerNorm.weight', shape: [4], kind: 'norm', group: 'encoder' },
  { name: 'classifier.weight', shape: [2, 3], kind: 'linear', group: 'head' },
];

interface Run {
  /** Per step, per parameter, the indices of the entries that changed in that step. */
  changed: number[][][];
}

function run(mask: MaskSettings, steps: number[][][], options: { maskedEntries: MaskedEntries; totalSteps: number; accumulationSteps?: number }): Run {
  const parameters: ModelParameter[] = SPECS.map((spec) => ({ ...spec, variable: tf.variable(tf.zeros([...spec.shape])), decay: false }));
  const strategy = createMaskingStrategy(mask, parameters, options.totalSteps);
  const optimizer = new TrainingOptimizer(parameters, {
    learningRate: 0.1,
    weightDecay: 0,
    totalSteps: options.totalSteps,
    accumulationSteps: options.accumulationSteps,
    gradientMask: strategy,
    maskedEntries: options.maskedEntries,
  });
  const changed: number[][][] = [];
  let before = parameters.map((p) => p.variable.dataSync().slice());
  for (const gradients of steps) {
    const tensors = gradients.map((g, i) => tf.tensor(g, [...SPECS[i].shape]));
    const step = optimizer.update(tensors);
    tf.dispose(tensors);
    if (!step) continue;
    const after = parameters.map((p) => p.variable.dataSync().slice());
    changed.push(after.map((values, i) => Array.from(values.keys()).filter((k) => values[k] !== before[i][k])));
    before = after;
  }
  optimizer.dispose();
  strategy.dispose();
  parameters.forEach((p) => p.variable.dispose());
  return { changed };
}

const all = (n: number) => Array.from({ length: n }, (_, i) => i);
const ones = SPECS.map((s) => new Array<number>(s.shape.reduce((a, b) => a * b)).fill(1));

describe('none', () => {
  it('updates every entry with a gradient', () => {
    const { changed } = run({ name: 'none' }, [ones], { maskedEntries: 'strict', totalSteps: 10 });
    expect(changed[0]).toEqual(SPECS.map((s) => all(s.shape.reduce((a, b) => a * b))));
  });
});

describe('gmt', () => {
  // |g| of the Linear weight is 1…12 in a scrambled order with mixed signs; 9 = ⌈0.7·12⌉ are kept,
  // so the entries holding ±1, ±2, ±3 (indices 4, 0, 9) are not.
  const query = [2, -5, 7, 12, 1, -4, 11, 6, -8, -3, 10, 9];
  const step2 = [
    [0.1, -0.5, 0.3, 0.2, -0.4, 0.6], // ⌈4.2⌉ = 5 kept: all but index 0
    query,
    [0, 0, 5], // more zeros than the 30% dropped: only the nonzero entry
    [2, 2, -2, 1], // ⌈2.8⌉ = 3 kept: the three tied at 2
    [1, 2, 3, 4, 5, 6], // ⌈4.2⌉ = 5 kept: all but index 0
  ];

  it('updates exactly the top 70% of each tensor by |g|, zeros never (strict entries, scope all)', () => {
    // Step 1 gives every entry momentum, so a wrongly kept entry would move in step 2.
    const { changed } = run({ ...GMT_DEFAULTS, name: 'gmt' }, [ones, step2], { maskedEntries: 'strict', totalSteps: 10 });
    expect(changed[1]).toEqual([[1, 2, 3, 4, 5], [1, 2, 3, 5, 6, 7, 8, 10, 11], [2], [0, 1, 2], [1, 2, 3, 4, 5]]);
  });

  it('leaves the embeddings and the head dense with scope "encoder"', () => {
    const { changed } = run({ ...GMT_DEFAULTS, name: 'gmt', scope: 'encoder' }, [ones, step2], { maskedEntries: 'strict', totalSteps: 10 });
    expect(changed[1]).toEqual([all(6), [1, 2, 3, 5, 6, 7, 8, 10, 11], [2], [0, 1, 2], all(6)]);
  });

  it('ranks the gradients averaged over the accumulation window', () => {
    // Micro-batches that average to `query` with entry 3 zeroed: the first alone (24 at entry 3, 0 at
    // entry 11) would keep entry 3 and drop entry 11; the second (−24, 18) would keep both.
    const first = step2.map((g) => g.slice());
    const second = step2.map((g) => g.slice());
    first[1] = query.map((g, i) => (i === 3 ? 2 * g : i === 11 ? 0 : g));
    second[1] = query.map((g, i) => (i === 3 ? -2 * g : i === 11 ? 2 * g : g));
    // Means: entry 3 → 0, entry 11 → 9; the three smallest |g| are at 3, 4 (1) and 0 (2).
    const { changed } = run({ ...GMT_DEFAULTS, name: 'gmt' }, [first, second], { maskedEntries: 'faithful', totalSteps: 10, accumulationSteps: 2 });
    expect(changed).toHaveLength(1);
    expect(changed[0][1]).toEqual([1, 2, 5, 6, 7, 8, 9, 10, 11]);
  });
});

describe('dps', () => {
  const linearSize = 12;
  const withQuery = (query: number[]) => ones.map((g, i) => (i === 1 ? query : g));
  const a = all(linearSize).map((i) => (i + 1) / 10);
  const b = all(linearSize).map((i) => (i === 0 ? 2 : 0));
  const c = all(linearSize).map((i) => (linearSize - i) / 10);
  const zeros = new Array<number>(linearSize).fill(0);
  // totalSteps 40, updateRatio 0.05: phases of 2 steps. Dense 1–2 (Σg² = a² + b²), sparse 3–4,
  // dense 5–6 (Σg² restarts: c²), sparse 7–8.
  const steps = [withQuery(a), withQuery(b), ones, ones, withQuery(c), withQuery(zeros), ones, ones];

  it("alternates dense phases with phases that update the top 70% of each Linear weight by the last dense phase's Σg²", () => {
    const { changed } = run({ ...DPS_DEFAULTS, name: 'dps' }, steps, { maskedEntries: 'strict', totalSteps: 40 });
    const dense = SPECS.map((s) => all(s.shape.reduce((x, y) => x * y)));
    expect(changed[0]).toEqual(dense);
    // Σ(a² + b²): 4.01 at index 0, then (i + 1)²/100 — the three smallest, indices 1, 2, 3, are left out
    // (a alone would leave out 0, 1, 2). Everything else, including the head (scope "encoder"), is dense.
    const firstSparse = dense.map((entries, i) => (i === 1 ? [0, 4, 5, 6, 7, 8, 9, 10, 11] : entries));
    expect(changed[2]).toEqual(firstSparse);
    expect(changed[3]).toEqual(firstSparse);
    expect(changed[4]).toEqual(dense);
    // Σc² only: the three smallest are now indices 9, 10, 11 (without the restart it would differ).
    const secondSparse = dense.map((entries, i) => (i === 1 ? all(9) : entries));
    expect(changed[6]).toEqual(secondSparse);
    expect(changed[7]).toEqual(secondSparse);
  });

  it('masks the head\'s Linear weight too with scope "all", never biases or LayerNorm', () => {
    const head = all(6).map((i) => i + 1);
    const withHead = (g: number[][]) => g.map((x, i) => (i === 4 ? head : x));
    const { changed } = run({ ...DPS_DEFAULTS, name: 'dps', scope: 'all' }, [withHead(steps[0]), withHead(steps[1]), ones], {
      maskedEntries: 'strict',
      totalSteps: 40,
    });
    // Head Σg² = 2·(i + 1)²: ⌈0.7·6⌉ = 5 kept, index 0 left out; bias and LayerNorm dense.
    expect(changed[2]).toEqual([all(6), [0, 4, 5, 6, 7, 8, 9, 10, 11], all(3), all(4), [1, 2, 3, 4, 5]]);
  });
});
