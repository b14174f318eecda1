import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { loadTensorflow } from '../../src/tf/backend.js';
import { checkClassifierGradients, TOLERANCE } from '../helpers/gradcheck.js';

/**
 * The same check as encoder-gradients.test.ts with a deliberately wrong gradient: LayerNorm's
 * backward drops the variance term (σ² treated as a constant, as a hand-written backward that
 * forgot ∂σ²/∂x would), while the forward pass is unchanged. The check must notice.
 */
vi.mock('../../src/finetune/layers.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/finetune/layers.js')>();
  const constant = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.clone(args[0] as tf.Tensor),
    gradFunc: (dy: tf.Tensor | tf.Tensor[]) => tf.zerosLike(dy as tf.Tensor),
  })) as (x: tf.Tensor) => tf.Tensor;
  return {
    ...original,
    layerNorm(x: tf.Tensor2D, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): tf.Tensor2D {
      const { mean, variance } = tf.moments(x, -1, true);
      return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(constant(variance), epsilon))), gamma), beta);
    },
  };
});

beforeAll(async () => {
  await loadTensorflow();
});

describe('the finite-difference check', () => {
  it('fails for a LayerNorm gradient that drops the variance term', async () => {
    const checks = await checkClassifierGradients();
    const caught = checks.filter((c) => c.relativeError > TOLERANCE).map((c) => c.name);
    // Every entry below a LayerNorm is affected; the classifier and pooler, above the last one, are not.
    expect(caught).toEqual(
      expect.arrayContaining([
        'embeddings.position_embeddings.weight',
        'encoder.layer.0.attention.self.query.weight',
        'encoder.layer.1.intermediate.dense.weight',
      ]),
    );
    expect(caught).not.toContain('classifier.weight');
  });
});
