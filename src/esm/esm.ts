import type { EsmConfig } from './config.js';

/**
 * An Embedding Space Map: the linear map y = W x + b from base-model embeddings to the embeddings of
 * the model fine-tuned on a source task (Schulte et al., EMNLP 2024). W is [dim_out, dim_in] row-major,
 * as PyTorch's nn.Linear stores it; hfselect's ESMs are square.
 */
export class EmbeddingSpaceMap {
  readonly dim: number;

  constructor(
    readonly config: EsmConfig,
    readonly weight: Float32Array,
    readonly bias: Float32Array,
  ) {
    this.dim = bias.length;
    if (weight.length !== this.dim * this.dim) {
      throw new RangeError(`weight has ${weight.length} values, expected ${this.dim}×${this.dim}`);
    }
  }

  get taskId(): string {
    return this.config.task_id;
  }

  /** F = X Wᵀ + 1 bᵀ in float64 for the n×dim row-major embeddings X. */
  apply(x: ArrayLike<number>, n: number): Float64Array {
    const d = this.dim;
    if (x.length !== n * d) throw new RangeError(`expected ${n}×${d} embeddings, got ${x.length} values`);
    const { weight, bias } = this;
    const out = new Float64Array(n * d);
    for (let i = 0; i < n; i++) {
      const xi = i * d;
      for (let j = 0; j < d; j++) {
        const wj = j * d;
        let s = bias[j];
        for (let k = 0; k < d; k++) s += weight[wj + k] * x[xi + k];
        out[xi + j] = s;
      }
    }
    return out;
  }
}

/** Where the first non-finite value of a flat [rows, cols] array sits, or null. */
export function firstNonFinite(values: ArrayLike<number>, cols: number): { row: number; col: number } | null {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) return { row: Math.floor(i / cols), col: i % cols };
  }
  return null;
}
