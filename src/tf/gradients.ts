import * as tf from '@tensorflow/tfjs-core';

/**
 * `torch.nn.utils.clip_grad_norm_`: the global L2 norm over all gradients, ‖g‖ = √(Σᵢ‖gᵢ‖²), and the
 * gradients scaled by min(1, maxNorm / (‖g‖ + 1e-6)). Returns new tensors (the caller disposes
 * them and the inputs) and the norm before clipping.
 */
export function clipGradNorm(gradients: readonly tf.Tensor[], maxNorm: number): { gradients: tf.Tensor[]; norm: number } {
  const norm = Math.sqrt(tf.tidy(() => tf.addN(gradients.map((g) => tf.sum(tf.square(g)))).dataSync()[0]));
  const scale = Math.min(1, maxNorm / (norm + 1e-6));
  return { gradients: gradients.map((g) => (scale < 1 ? tf.mul(g, scale) : tf.clone(g))), norm };
}

/**
 * Sums micro-batch gradients until an optimiser step, then hands back their mean, which is what
 * dividing each micro-batch loss by the number of accumulation steps gives (transformers' Trainer).
 */
export class GradientAccumulator {
  private sums: tf.Variable[] | undefined;
  private added = 0;

  get count(): number {
    return this.added;
  }

  /** Adds one micro-batch's gradients; the caller keeps ownership of them. */
  add(gradients: readonly tf.Tensor[]): void {
    if (!this.sums) this.sums = gradients.map((g) => tf.variable(tf.zerosLike(g), false));
    if (gradients.length !== this.sums.length) throw new RangeError(`expected ${this.sums.length} gradients, got ${gradients.length}`);
    tf.tidy(() => this.sums!.forEach((sum, i) => sum.assign(tf.add(sum, gradients[i]))));
    this.added++;
  }

  /** The mean of the gradients added since the last call (new tensors), and a reset to zero. */
  takeMean(): tf.Tensor[] {
    if (!this.sums || this.added === 0) throw new Error('no gradients were accumulated');
    const count = this.added;
    const means = this.sums.map((sum) => tf.div(sum, count));
    tf.tidy(() => this.sums!.forEach((sum) => sum.assign(tf.zerosLike(sum))));
    this.added = 0;
    return means;
  }

  dispose(): void {
    this.sums?.forEach((sum) => sum.dispose());
    this.sums = undefined;
    this.added = 0;
  }
}
