import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdamW } from '../../src/tf/adamw.js';
import { loadTensorflow } from '../../src/tf/backend.js';
import { type GradientMask, TrainingOptimizer } from '../../src/tf/optimizer.js';

beforeAll(async () => {
  await loadTensorflow();
});

const values = (t: tf.Tensor): number[] => Array.from(t.dataSync());

/** A GradientMask that applies fixed masks (one list per step) and records what it was shown. */
function scriptedMask(perStep: boolean[][][]): GradientMask & { seen: { step: number; gradients: number[][] }[] } {
  const seen: { step: number; gradients: number[][] }[] = [];
  let current: tf.Tensor[] = [];
  return {
    seen,
    select(gradients, step) {
      seen.push({ step, gradients: gradients.map(values) });
      tf.dispose(current);
      current = perStep[step - 1].map((mask) => tf.tensor1d(mask, 'bool'));
      return current;
    },
  };
}

describe('AdamW with update masks (strict masking)', () => {
  it('leaves masked entries, their decay and their moments untouched, and uses the global step for bias correction', () => {
    const theta = tf.variable(tf.tensor1d([1, 1]));
    const adamw = new AdamW([{ variable: theta, decay: true }], { weightDecay: 0.01 });
    // Step 1, lr 0.1, g = 0.5 on both, only entry 0 updated: entry 0 as in the unmasked hand-computed
    // step (0.899000002); entry 1 keeps 1 exactly (no decay) and m = v = 0.
    adamw.step([tf.tensor1d([0.5, 0.5])], 0.1, [tf.tensor1d([true, false], 'bool')]);
    expect(values(theta)[0]).toBeCloseTo(0.899000002, 6);
    expect(values(theta)[1]).toBe(1);
    // Step 2, g = −1 on both, both updated. Entry 1's moments start from 0 at t = 2:
    // m = −0.1, v = 0.001; θ = 1·0.999 − 0.1·(−0.1/0.19) / (√(0.001/0.001999) + 1e-8) = 1.073413681.
    adamw.step([tf.tensor1d([-1, -1])], 0.1, [null]);
    expect(values(theta)[0]).toBeCloseTo(0.934711354, 6);
    expect(values(theta)[1]).toBeCloseTo(1.073413681, 6);
    adamw.dispose();
    theta.dispose();
  });
});

describe('TrainingOptimizer with a gradient mask', () => {
  it('faithful (default): a masked entry gets a zero gradient but still moves with its momentum', () => {
    const theta = tf.variable(tf.tensor1d([1, 1]));
    const mask = scriptedMask([[[true, false]], [[false, false]]]);
    const optimizer = new TrainingOptimizer([{ variable: theta, decay: false }], { learningRate: 0.1, weightDecay: 0, totalSteps: 1000, gradientMask: mask });
    // Step 1: entry 0 sees g = 0.5 → 0.900000002; entry 1 sees g = 0: m = v = 0, so it stays at 1.
    optimizer.update([tf.tensor1d([0.5, 0.5])]);
    expect(values(theta)[0]).toBeCloseTo(0.900000002, 6);
    expect(values(theta)[1]).toBe(1);
    // Step 2 (lr 0.1·0.999 from the schedule), entry 0 masked: g = 0, m = 0.045, v = 0.00024975, so
    // θ = 0.900000002 − 0.0999·(0.045/0.19)/√(0.00024975/0.001999) = 0.833061184.
    optimizer.update([tf.tensor1d([7, 7])]);
    expect(values(theta)[0]).toBeCloseTo(0.833061184, 6);
    expect(values(theta)[1]).toBe(1);
    optimizer.dispose();
    theta.dispose();
  });

  it('strict: the same masked entry keeps its weight', () => {
    const theta = tf.variable(tf.tensor1d([1, 1]));
    const mask = scriptedMask([[[true, false]], [[false, false]]]);
    const optimizer = new TrainingOptimizer([{ variable: theta, decay: false }], {
      learningRate: 0.1,
      weightDecay: 0,
      totalSteps: 1000,
      gradientMask: mask,
      maskedEntries: 'strict',
    });
    optimizer.update([tf.tensor1d([0.5, 0.5])]);
    optimizer.update([tf.tensor1d([7, 7])]);
    expect(values(theta)[0]).toBeCloseTo(0.900000002, 6);
    expect(values(theta)[1]).toBe(1);
    optimizer.dispose();
    theta.dispose();
  });

  it('masks the mean over the accumulation window, then clips the masked gradients', () => {
    const a = tf.variable(tf.tensor1d([0, 0]));
    const b = tf.variable(tf.tensor1d([0]));
    const mask = scriptedMask([[[true, true], [false]]]);
    const optimizer = new TrainingOptimizer(
      [
        { variable: a, decay: false },
        { variable: b, decay: false },
      ],
      { learningRate: 1, weightDecay: 0, totalSteps: 10, accumulationSteps: 2, maxGradNorm: 1, gradientMask: mask },
    );
    expect(optimizer.update([tf.tensor1d([2, 8]), tf.tensor1d([20])])).toBeNull();
    const step = optimizer.update([tf.tensor1d([4, 0]), tf.tensor1d([4])]);
    // The mask saw the means (3, 4) and (12); masking (12) leaves ‖(3, 4)‖ = 5 to clip, not 13.
    expect(mask.seen).toEqual([{ step: 1, gradients: [[3, 4], [12]] }]);
    expect(step?.gradNorm).toBeCloseTo(5, 5);
    // The first Adam step moves every entry with a nonzero gradient by −lr·sign(g); b's gradient is 0.
    expect(values(a).map((x) => Math.round(x * 1e6) / 1e6)).toEqual([-1, -1]);
    expect(values(b)).toEqual([0]);
    optimizer.dispose();
    tf.dispose([a, b]);
  });
});
