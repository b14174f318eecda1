import * as tf from '@tensorflow/tfjs-core';
import type { Activation } from './model-config.js';

/**
 * The building blocks of the encoder as pure functions on tensors, shaped as PyTorch stores the
 * weights (nn.Linear's weight is [out, in]), so HF checkpoints load without transposing.
 */

/**
 * nn.Linear: x Wᵀ + b for x of shape [n, in], W of shape [out, in]. Every product is written without
 * matMul's transpose flags: the wasm backend runs only an untransposed 2-D product through XNNPACK
 * and falls back to a naive loop otherwise (batch_mat_mul_impl.cc), 5–10× slower here. So Wᵀ is
 * materialised (small), and so are the gradients' transposes:
 *   ∂L/∂x = (∂L/∂y) W,   ∂L/∂W = (∂L/∂y)ᵀ x,   ∂L/∂b = Σᵢ (∂L/∂y)ᵢ.
 */
export const linear = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, weight, bias, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  save([x, weight]);
  return {
    value: tf.add(tf.matMul(x, tf.transpose(weight)), bias),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], [input, w]: tf.Tensor[]) => {
      const g = dy as tf.Tensor2D;
      return [tf.matMul(g, w as tf.Tensor2D), tf.matMul(tf.transpose(g), input as tf.Tensor2D), tf.sum(g, 0)];
    },
  };
}) as (x: tf.Tensor2D, weight: tf.Tensor, bias: tf.Tensor) => tf.Tensor2D;

/** nn.LayerNorm over the last axis: (x − μ) / √(σ² + ε) · γ + β, with the biased variance as torch uses. */
export function layerNorm(x: tf.Tensor2D, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): tf.Tensor2D {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon))), gamma), beta);
}

const SQRT_HALF = Math.SQRT1_2;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** HF's ACT2FN: `gelu` is the exact 0.5·x·(1 + erf(x/√2)); `gelu_new` the tanh approximation. */
export function activate(x: tf.Tensor2D, activation: Activation): tf.Tensor2D {
  switch (activation) {
    case 'relu':
      return tf.relu(x);
    case 'gelu':
      return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, SQRT_HALF)), 1));
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
      return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), SQRT_2_OVER_PI)), 1));
  }
}

/**
 * Rows `ids` of an embedding table. The gradient is written out as a scatter-add
 * (∂L/∂E[r] = Σ_{i: idsᵢ = r} ∂L/∂outᵢ) because tf.gather's own gradient needs the
 * UnsortedSegmentSum kernel, which the wasm backend lacks; scatterND sums duplicate indices.
 */
export const embeddingLookup = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [table, ids, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([ids]);
  return {
    value: tf.gather(table, ids),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], [saved]: tf.Tensor[]) => [tf.scatterND(tf.expandDims(saved, 1), dy as tf.Tensor, table.shape), tf.zerosLike(saved)],
  };
}) as (table: tf.Tensor, ids: tf.Tensor1D) => tf.Tensor2D;

/**
 * Where the seeds of a forward pass's dropout masks come from: each call gives the next seed, so
 * one run seed fixes every mask. `null` means evaluation: no dropout.
 */
export type DropoutSeeds = (() => number) | null;

/** Inverted dropout (nn.Dropout in training mode): zero with probability `rate`, scale the rest by 1/(1 − rate). */
export function dropout<T extends tf.Tensor>(x: T, rate: number, seeds: DropoutSeeds): T {
  return seeds && rate > 0 ? (tf.dropout(x, rate, undefined, seeds()) as T) : x;
}
