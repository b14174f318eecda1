import { UserInputError } from '../errors.js';
import type { Embeddings } from '../io/embeddings.js';

/**
 * How one vector is taken from a base model's outputs, as hfselect's `get_pooled_output` does:
 * - `pooler_output`: BERT's pooler, tanh(W·h₀ + b) on the first token's last hidden state;
 * - `first_token`: the first token's last hidden state (DistilBERT, RoBERTa);
 * - `mean`: the attention-mask-weighted mean of the last hidden states (sentence-transformers),
 *   Σₜ mₜhₜ / max(Σₜ mₜ, 1e-9), without the L2 normalisation some sentence-transformers add.
 */
export type Pooling = 'pooler_output' | 'first_token' | 'mean';

export const POOLINGS: readonly Pooling[] = ['pooler_output', 'first_token', 'mean'];

/** What decides the pooling: config.json's `model_type`, and whether it is a sentence-transformers model. */
export interface PoolingEvidence {
  readonly modelType: string;
  /** The folder has sentence-transformers' modules.json, or the name says sentence-transformers. */
  readonly sentenceTransformers: boolean;
}

/**
 * hfselect's rule: a BertModel is mean-pooled when its name contains "sentence-transformers" and
 * pooled with `pooler_output` otherwise; DistilBertModel and RobertaModel take the first token.
 * A local sentence-transformers folder (modules.json) counts as such a name.
 */
export function poolingFor(model: string, { modelType, sentenceTransformers }: PoolingEvidence): Pooling {
  if (sentenceTransformers) return 'mean';
  switch (modelType) {
    case 'bert':
      return 'pooler_output';
    case 'distilbert':
    case 'roberta':
      return 'first_token';
    default:
      throw new UserInputError(
        `model: ${model}: model_type "${modelType}" has no hfselect pooling rule (supported: bert, distilbert, roberta, or a sentence-transformers model)`,
        'model',
      );
  }
}

/** A row-major float32 tensor as transformers.js returns it. */
export interface HiddenStates {
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

/** The first token's vector of each sequence of `[batch, length, hidden]` states. */
export function firstToken(states: HiddenStates): Embeddings {
  const [rows, length, dim] = states.dims;
  const data = new Float32Array(rows * dim);
  for (let i = 0; i < rows; i++) data.set(states.data.subarray(i * length * dim, i * length * dim + dim), i * dim);
  return { rows, dim, data };
}

/** Σₜ mₜhₜ / max(Σₜ mₜ, 1e-9) per sequence, accumulated in float64 (sentence-transformers' mean pooling). */
export function meanPool(states: HiddenStates, attentionMask: ArrayLike<number | bigint>): Embeddings {
  const [rows, length, dim] = states.dims;
  const data = new Float32Array(rows * dim);
  const sum = new Float64Array(dim);
  for (let i = 0; i < rows; i++) {
    sum.fill(0);
    let count = 0;
    for (let t = 0; t < length; t++) {
      const m = Number(attentionMask[i * length + t]);
      if (m === 0) continue;
      count += m;
      const offset = (i * length + t) * dim;
      for (let k = 0; k < dim; k++) sum[k] += m * states.data[offset + k];
    }
    const scale = 1 / Math.max(count, 1e-9);
    for (let k = 0; k < dim; k++) data[i * dim + k] = sum[k] * scale;
  }
  return { rows, dim, data };
}

/** BERT's pooler layer on first-token states: tanh(W·h₀ + b), W stored `[out, in]` as torch's Linear. */
export interface BertPooler {
  readonly weight: Float32Array;
  readonly bias: Float32Array;
}

export function applyBertPooler(pooler: BertPooler, first: Embeddings): Embeddings {
  const { rows, dim } = first;
  if (pooler.weight.length !== dim * dim || pooler.bias.length !== dim) {
    throw new Error(`pooler weights do not fit hidden size ${dim}`);
  }
  const data = new Float32Array(rows * dim);
  for (let i = 0; i < rows; i++) {
    for (let o = 0; o < dim; o++) {
      let z = pooler.bias[o];
      for (let k = 0; k < dim; k++) z += pooler.weight[o * dim + k] * first.data[i * dim + k];
      data[i * dim + o] = Math.tanh(z);
    }
  }
  return { rows, dim, data };
}
