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
  /**
   * Only ESMs pulled from Hub repos tagged `base_model:<this>` (the base model's current name on the
   * Hub): the pool hfselect's `find_esm_repo_ids` finds for it.
   */
  readonly hub_base_model?: string;
  /** Only ESMs pulled from these Hub repos (hfselect's `esm_repo_ids`). */
  readonly esm_repo_ids?: readonly string[];
}

/** The fields of an EsmFilter that the API takes, in the order it lists them. */
export const ESM_FILTER_FIELDS = [
  'base_model_name',
  'language',
  'task_id',
  'esm_architecture',
  'esm_embedding_dim',
] as const satisfies readonly (keyof EsmFilter)[];
