import { type EmbedDatasetOptions, embedDataset } from '../embed/embed-dataset.js';
import { UserInputError } from '../errors.js';
import { type RankOptions, rank } from '../rank/rank.js';
import type { TwoStageRankingResult } from '../rank/two-stage.js';
import { openRegistry, type Registry } from '../store/database.js';
import { RegistryEmbeddingCache } from '../store/embedding-cache.js';
import { type EsmFilter, listEsmIds } from '../store/esms.js';
import { registryPool } from './pool.js';
import { type PullOptions, type PullSummary, pullEsms } from './pull.js';

/**
 * hfselect's one call, `compute_task_ranking(dataset, model_name)`: find the ESMs published on the
 * Hub for the base model, fetch them (here: pull what is new into the registry), embed the target
 * and rank.
 */

/** The registry filters that still apply to the Hub's pool (the base model is the Hub's). */
export type PoolFilters = Omit<EsmFilter, 'base_model_name' | 'hub_base_model' | 'esm_repo_ids'>;

export interface HubPoolOptions extends Omit<PullOptions, 'baseModel' | 'repos'> {
  /** The base model, as the Hub names it (an old name is followed to the current one). */
  readonly modelName: string;
  /** hfselect's `esm_repo_ids`: these repos instead of every ESM published for the model. */
  readonly esmRepoIds?: readonly string[];
  readonly filters?: PoolFilters;
}

/**
 * Pulls what the registry lacks of the Hub's ESMs for a base model (or of the named repos) and
 * returns the registry filter that selects that pool; none found is the user's error, as
 * hfselect's NoESMsFoundError.
 */
export async function pullHubPool(registry: Registry, options: HubPoolOptions): Promise<{ filter: EsmFilter; pull: PullSummary }> {
  const { modelName, esmRepoIds, filters, ...pullOptions } = options;
  const named = esmRepoIds !== undefined && esmRepoIds.length > 0;
  const pull = await pullEsms(registry, { ...pullOptions, ...(named ? { repos: esmRepoIds } : { baseModel: modelName }) });
  const pulled = pull.outcomes.filter((o) => o.id !== undefined).map((o) => o.repo);
  const filter: EsmFilter = { ...filters, ...(named ? { esm_repo_ids: pulled } : { hub_base_model: pull.baseModel! }) };
  if (listEsmIds(registry, filter).length === 0) {
    const where = named ? `in the repos ${esmRepoIds.join(', ')}` : `for ${pull.baseModel} on the Hub`;
    throw new UserInputError(
      `esms: no usable ESMs ${where}${filters && Object.keys(filters).length ? ' that match the filters' : ''} (esmselect esm coverage lists the base models that have some)`,
      'esms',
    );
  }
  return { filter, pull };
}

export interface ComputeTaskRankingOptions extends HubPoolOptions, Pick<RankOptions, 'top' | 'candidates' | 'firstStage'> {
  /** The target dataset: a file (CSV, TSV, JSON Lines, Parquet) that `readTextDataset` reads. */
  readonly dataset: string;
  /** Its text column, or several joined with " [SEP] " as hfselect does. */
  readonly textColumn: string | readonly string[];
  readonly labelColumn: string;
  /** hfselect's `is_regression`: the labels are regression targets. */
  readonly isRegression?: boolean;
  /** Embed a sample of this many rows, drawn with `seed`. */
  readonly numExamples?: number;
  readonly seed?: number;
  /** Texts per model call. */
  readonly batchSize?: number;
  /** Where the base model's folder is (default ESMSELECT_MODELS_DIR, else models/): `<modelsDir>/<modelName>`. */
  readonly modelsDir?: string;
  /** Default: `openRegistry()` (ESMSELECT_DATA_DIR), opened and closed by the call. */
  readonly registry?: Registry;
  /** Further options of the dataset reader and embedder. */
  readonly embed?: Partial<EmbedDatasetOptions>;
}

export interface TaskRanking extends TwoStageRankingResult {
  /** What was pulled from the Hub for the ranking. */
  readonly pull: PullSummary;
}

/**
 * hfselect's `compute_task_ranking`: pulls the ESMs published for `modelName` (those the registry
 * has at their current commit are not downloaded again), embeds the target dataset with the local
 * base model `modelName` (through the registry's embedding cache) and ranks the pool with ESM-LogME.
 */
export async function computeTaskRanking(options: ComputeTaskRankingOptions): Promise<TaskRanking> {
  const registry = options.registry ?? openRegistry();
  try {
    const { filter, pull } = await pullHubPool(registry, options);
    const { dataset, embeddings, meta } = await embedDataset(options.dataset, {
      ...options.embed,
      textColumns: options.textColumn,
      labelColumn: options.labelColumn,
      task: options.isRegression ? 'regression' : 'classification',
      numExamples: options.numExamples,
      seed: options.seed,
      model: options.modelName,
      modelsDir: options.modelsDir,
      batchSize: options.batchSize,
      cache: new RegistryEmbeddingCache(registry),
    });
    const result = await rank({
      embeddings,
      labels: dataset.labels,
      task: dataset.task,
      esms: registryPool(registry, filter),
      space: { model: meta.model, pooling: meta.pooling },
      top: options.top,
      candidates: options.candidates,
      firstStage: options.firstStage,
    });
    return { ...result, pull };
  } finally {
    if (!options.registry) registry.close();
  }
}
