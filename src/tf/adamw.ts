import * as tf from '@tensorflow/tfjs-core';

/** One trainable tensor; `decay: false` exempts it from weight decay (biases, LayerNorm weights). */
export interface Parameter {
  readonly variable: tf.Variable;
  readonly decay: boolean;
}

export interface AdamWOptions {
  readonly weightDecay: number;
  /** torch's defaults: 0.9, 0.999, 1e-8. */
  readonly beta1?: number;
  readonly beta2?: number;
  readonly epsilon?: number;
}

/** A non-trainable variable of zeros shaped like `like`; the zeros tensor it starts from is released, or every optimiser would leak one per moment. */
function zeroMoment(like: tf.Variable): tf.Variable {
  const zeros = tf.zerosLike(like);
  try {
    return tf.variable(zeros, false);
  } finally {
    zeros.dispose();
  }
}

/**
 * AdamW with decoupled weight decay (Loshchilov & Hutter), step for step as `torch.optim.AdamW`
 * computes it, at a learning rate given per step (so any schedule can drive it):
 *   θ ← θ·(1 − lr·λ)                       (only parameters with decay)
 *   m ← β₁m + (1 − β₁)g,   v ← β₂v + (1 − β₂)g²
 *   θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
 */
export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  private readonly moments: { m: tf.Variable; v: tf.Variable }[];
  private steps = 0;

  constructor(
    readonly parameters: readonly Parameter[],
    options: AdamWOptions,
  ) {
    this.weightDecay = options.weightDecay;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.moments = parameters.map(({ variable }) => ({ m: zeroMoment(variable), v: zeroMoment(variable) }));
  }

  /** Optimiser steps taken so far (torch's `state['step']`). */
  get stepCount(): number {
    return this.steps;
  }

  /**
   * Applies one update with gradients in the order of `parameters`; the caller keeps ownership of
   * them. `updated`, when given, holds per parameter a boolean tensor of its shape (true: the entry
   * takes part in this step) or null (every entry does): entries outside it keep their weight and
   * both moments exactly as they were, weight decay included ("strict" masking). Masking that
   * zeroes gradients but still lets them through the moments needs no argument here.
   */
  step(gradients: readonly tf.Tensor[], learningRate: number, updated?: readonly (tf.Tensor | null)[]): void {
    if (gradients.length !== this.parameters.length) throw new RangeError(`expected ${this.parameters.length} gradients, got ${gradients.length}`);
    if (updated && updated.length !== this.parameters.length) throw new RangeError(`expected ${this.parameters.length} update masks, got ${updated.length}`);
    this.steps++;
    const t = this.steps;
    // Scalars in float64 first, as torch computes them in Python before touching the tensors.
    const stepSize = learningRate / (1 - this.beta1 ** t);
    const correction2 = Math.sqrt(1 - this.beta2 ** t);
    const decayFactor = 1 - learningRate * this.weightDecay;
    tf.tidy(() => {
      this.parameters.forEach(({ variable, decay }, i) => {
        const g = gradients[i];
        const { m, v } = this.moments[i];
        const keep = updated?.[i];
        const only = (next: tf.Tensor, previous: tf.Tensor): tf.Tensor => (keep ? tf.where(keep, next, previous) : next);
        const decayed = decay ? tf.mul(variable, decayFactor) : variable;
        const nextM = only(tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1)), m);
        const nextV = only(tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2)), v);
        const denominator = tf.add(tf.div(tf.sqrt(nextV), correction2), this.epsilon);
        variable.assign(only(tf.sub(decayed, tf.mul(tf.div(nextM, denominator), stepSize)), variable));
        m.assign(nextM);
        v.assign(nextV);
      });
    });
  }

  dispose(): void {
    for (const { m, v } of this.moments) {
      m.dispose();
      v.dispose();
    }
  }
}
