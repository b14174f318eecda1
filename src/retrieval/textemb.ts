import type { Embeddings } from '../io/embeddings.js';

/** How many of a source task's texts its TextEmb vector averages (Vu et al., 2020 use a sample too). */
export const TEXTEMB_TEXTS = 1000;

/**
 * The TextEmb representation of a task (Vu et al., EMNLP 2020, "Exploring and Predicting
 * Transferability across NLP Tasks"): the mean of its texts' base-model embeddings,
 * e = (1/n) Σᵢ xᵢ, scaled to unit length e / ‖e‖ so that comparing two tasks is a cosine.
 * Accumulated in float64. Used for source tasks (their texts) and for the target (its rows), in the
 * same embedding space.
 */
export function meanDirection({ rows, dim, data }: Embeddings): Float32Array {
  if (rows === 0) throw new RangeError('the mean direction of no embeddings is undefined');
  const sum = new Float64Array(dim);
  for (let i = 0; i < rows; i++) {
    const offset = i * dim;
    for (let k = 0; k < dim; k++) sum[k] += data[offset + k];
  }
  let norm = 0;
  for (let k = 0; k < dim; k++) norm += sum[k] * sum[k];
  norm = Math.sqrt(norm);
  // A zero mean has no direction; the zero vector then matches nothing (cosine 0 under hnswlib's guard).
  return Float32Array.from(sum, (v) => (norm > 0 ? v / norm : 0));
}
