import { UserInputError } from '../errors.js';
import { type EsmPool, folderPool } from '../esm/pool.js';
import { readEmbeddingFile, readLabelFile } from '../io/embedding-files.js';
import type { Embeddings } from '../io/embeddings.js';
import { encodeLabels, type TaskType } from '../task/labels.js';
import { prepareTargetFor, type RankPoolOptions } from './ranking.js';
import { selectScorer } from './scorers.js';
import { rankTwoStage, type TwoStageOptions, type TwoStageRankingResult } from './two-stage.js';

export interface RankOptions extends RankPoolOptions, TwoStageOptions {
  /** Target embeddings, or a file/directory to read them from (see `readEmbeddingFile`). */
  readonly embeddings: Embeddings | string;
  /** Labels, or a label file; optional when the embedding file carries them. */
  readonly labels?: readonly unknown[] | string;
  /** Defaults to what the embedding file says, else classification. */
  readonly task?: TaskType;
  /** ESM folders, or directories searched recursively for them; or a pool (e.g. `registryPool`). */
  readonly esms: readonly string[] | EsmPool;
}

/** The embedding space an embedding file says it was made in (`esmselect embed` records model and pooling). */
function spaceOf(meta: Record<string, unknown> | undefined) {
  return typeof meta?.model === 'string' && typeof meta.pooling === 'string' ? { model: meta.model, pooling: meta.pooling } : undefined;
}

/**
 * Ranks the source tasks of an ESM pool for one target dataset given as embeddings and labels, with
 * the given scorer or the one `selectScorer` picks: in two stages (`candidates`, default 100) when
 * the pool has a first stage (the registry's), else exhaustively.
 */
export async function rank(options: RankOptions): Promise<TwoStageRankingResult> {
  const file = typeof options.embeddings === 'string' ? await readEmbeddingFile(options.embeddings) : { embeddings: options.embeddings };
  const labels = typeof options.labels === 'string' ? await readLabelFile(options.labels) : (options.labels ?? ('labels' in file ? file.labels : undefined));
  if (!labels) throw new UserInputError('labels: no labels given and the embedding file carries none', 'labels');
  const task = options.task ?? ('task' in file ? file.task : undefined) ?? 'classification';
  const scorer = options.scorer ?? (await selectScorer()).scorer;
  const target = await prepareTargetFor(scorer, file.embeddings, encodeLabels(labels, task));
  const pool = 'total' in options.esms ? options.esms : await folderPool(options.esms);
  const space = options.space ?? ('meta' in file ? spaceOf(file.meta) : undefined);
  return rankTwoStage(target, pool, { ...options, scorer, space });
}
