/**
 * Which registered ESMs to take: each field set narrows the pool. The names are hfselect's
 * ESMConfig fields, as `esmselect esm list`, the HTTP API and the registry name them.
 */
export interface EsmFilter {
  /** Only ESMs of this base model. */
  readonly base_model_name?: string;
  /** Only source tasks in this language (case-insensitive). */
  readonly language?: string;
  /** Only source tasks whose id contains this text (case-insensitive). */
  readonly task_id?: string;
  /** Only ESMs of this architecture (linear). */
  readonly esm_architecture?: string;
  /** Only ESMs of this embedding dimension. */
  readonly esm_embedding_dim?: number;
}

/** The fields of an EsmFilter, in the order the API lists them. */
export const ESM_FILTER_FIELDS = ['base_model_name', 'language', 'task_id', 'esm_architecture', 'esm_embedding_dim'] as const satisfies readonly (keyof EsmFilter)[];
