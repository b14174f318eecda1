import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdamW } from '../../src/tf/adamw.js';
import { loadTensorflow } from '../../src/tf/backend.js';
import { clipGradNorm, GradientAccumulator } from '../../src/tf/gradients.js';
import { TrainingOptimizer } from '../../src/tf/optimizer.js';
import { linearScheduleWithWarmup } from '../../src/tf/schedule.js';
import { referenceDir } from '../helpers/reference.js';

const trainingFixtures = join(referenceDir, '..', 'training');

beforeAll(async () => {
  await loadTensorflow();
});

const values = (t: tf.Tensor): number[] => Array.from(t.dataSync());

describe('AdamW', () => {
  it('takes the steps worked out by hand, decaying only the parameters marked for decay', () => {
    const theta = tf.variable(tf.tensor1d([1]));
    const bias = tf.variable(tf.tensor1d([0.5]));
    const adamw = new AdamW(
      [
        { variable: theta, decay: true },
        { variable: bias, decay: false },
      ],
      { weightDecay: 0.01 },
    );
    // Step 1, g = 0.5, lr = 0.1: θ·(1 − 0.1·0.01) = 0.999; m = 0.05, v = 0.00025;
    // m̂ = 0.05/0.1 = 0.5, √v̂ = √(0.00025/0.001) = 0.5, so θ = 0.999 − 0.1·0.5/(0.5 + 1e-8) = 0.899000002.
    // The bias has no decay: 0.5 − 0.1 = 0.400000002.
    adamw.step([tf.tensor1d([0.5]), tf.tensor1d([0.5])], 0.1);
    expect(values(theta)[0]).toBeCloseTo(0.899000002, 6);
    expect(values(bias)[0]).toBeCloseTo(0.400000002, 6);
    // Step 2, g = −1: θ = 0.899000002·0.999; m = 0.9·0.05 − 0.1 = −0.055; v = 0.999·0.00025 + 0.001 = 0.00124975;
    // θ −= (0.1/(1 − 0.9²))·m / (√v/√(1 − 0.999²) + 1e-8), giving 0.934711354.
    adamw.step([tf.tensor1d([-1]), tf.tensor1d([0])], 0.1);
    expect(values(theta)[0]).toBeCloseTo(0.934711354, 6);
    expect(adamw.stepCount).toBe(2);
    adamw.dispose();
    tf.dispose([theta, bias]);
  });
});

describe('AdamW memory', () => {
  it('releases every tensor it made when disposed, so one optimiser per training stage does not leak', () => {
    const weight = tf.variable(tf.ones([3, 2]));
    const before = tf.memory().numTensors;
    const adamw = new AdamW([{ variable: weight, decay: true }], { weightDecay: 0.01 });
    const gradient = tf.fill([3, 2], 0.5);
    adamw.step([gradient], 0.1);
    gradient.dispose();
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    adamw.dispose();
    expect(tf.memory().numTensors).toBe(before);
    weight.dispose();
  });
});

describe('linearScheduleWithWarmup', () => {
  it('ramps up over the warm-up, then decays linearly to zero at the last step', () => {
    const factor = linearScheduleWithWarmup(2, 6);
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(factor)).toEqual([0, 0.5, 1, 0.75, 0.5, 0.25, 0, 0]);
    expect([0, 1, 9].map(linearScheduleWithWarmup(0, 10))).toEqual([1, 0.9, 0.1]);
  });
});

describe('clipGradNorm', () => {
  it('scales every gradient by max/(‖g‖ + 1e-6) of the global norm, and leaves small gradients alone', () => {
    // ‖(3, 4, 12)‖ = 13, so with max 1 each gradient is multiplied by 1/(13 + 1e-6).
    const { gradients, norm } = clipGradNorm([tf.tensor1d([3, 4]), tf.tensor1d([12])], 1);
    expect(norm).toBeCloseTo(13, 5);
    expect(values(gradients[0])[0]).toBeCloseTo(0.230769213, 6);
    expect(values(gradients[1])[0]).toBeCloseTo(12 / 13, 6);
    const untouched = clipGradNorm([tf.tensor1d([0.3, 0.4])], 1);
    expect(values(untouched.gradients[0])).toEqual([Math.fround(0.3), Math.fround(0.4)]);
  });
});

describe('GradientAccumulator', () => {
  it('hands back the mean of the micro-batch gradients and starts again from zero', () => {
    const accumulator = new GradientAccumulator();
    accumulator.add([tf.tensor1d([1, 2])]);
    accumulator.add([tf.tensor1d([3, 6])]);
    expect(values(accumulator.takeMean()[0])).toEqual([2, 4]);
    accumulator.add([tf.tensor1d([5, 5])]);
    expect(values(accumulator.takeMean()[0])).toEqual([5, 5]);
    expect(() => accumulator.takeMean()).toThrow(/no gradients/);
    accumulator.dispose();
  });
});

describe('TrainingOptimizer against torch', () => {
  it('follows torch AdamW + LambdaLR warm-up/decay + accumulation + clip_grad_norm_ step for step', async () => {
    const golden = JSON.parse(await readFile(join(trainingFixtures, 'optimizer-steps.json'), 'utf8'));
    const weight = tf.variable(tf.tensor2d(golden.initial.weight, [3, 4]));
    const bias = tf.variable(tf.tensor1d(golden.initial.bias));
    const optimizer = new TrainingOptimizer(
      [
        { variable: weight, decay: true },
        { variable: bias, decay: false },
      ],
      golden.options,
    );
    const steps = [];
    for (const micro of golden.microGradients) {
      const gradients = [tf.tensor2d(micro.weight, [3, 4]), tf.tensor1d(micro.bias)];
      const step = optimizer.update(gradients);
      tf.dispose(gradients);
      if (step) steps.push({ step, weight: values(weight), bias: values(bias) });
    }
    expect(steps).toHaveLength(golden.steps.length);
    steps.forEach(({ step, weight: w, bias: b }, i) => {
      const expected = golden.steps[i];
      expect(step.step).toBe(i + 1);
      expect(step.learningRate).toBeCloseTo(expected.learningRate, 12);
      expect(step.gradNorm).toBeCloseTo(expected.gradNorm, 5);
      w.forEach((value, k) => expect(value).toBeCloseTo(expected.weight[k], 5));
      b.forEach((value, k) => expect(value).toBeCloseTo(expected.bias[k], 5));
    });
    optimizer.dispose();
    tf.dispose([weight, bias]);
  });
});
