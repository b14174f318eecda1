/**
 * An embedding space: vectors are comparable only when they come from the same base model with the
 * same pooling. TextEmb vectors are indexed per space.
 */
export interface EmbeddingSpace {
  readonly model: string;
  readonly pooling: string;
}

export function describeSpace({ model, pooling }: EmbeddingSpace): string {
  return `${model} (${pooling} pooling)`;
}
