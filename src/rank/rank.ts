import { UserInputError } from '../errors.js';
import { folderPool, type EsmPool } from '../esm/pool.js';
import { readEmbeddingFile, readLabelFile } from '../io/embedding-files.js';
import type { Embeddings } from '../io/embeddings.js';
import { encodeLabels, type TaskType } from '../logme/labels.js';
import { prepareTargetFor, rankPool, type RankingResult, type RankPoolOptions } from './ranking.js';
import { selectScorer } from './scorers.js';

export interface RankOptions extends RankPoolOptions {
  /** Target embeddings, or a file/directory to read them from (see `readEmbeddingFile`). */
  readonly embeddings: Embeddings | string;
  /** Labels, or a label file; optional when the embedding file carries them. */
  readonly labels?: readonly unknown[] | string;
  /** Defaults to what the embedding file says, else classification. */
  readonly task?: TaskType;
  /** ESM folders, or directories searched recursively for them; or a pool (e.g. `registryPool`). */
  readonly esms: readonly string[] | EsmPool;
}

/**
 * Ranks the source tasks of an ESM pool for one target dataset given as embeddings and labels, with
 * the given scorer or the one `selectScorer` picks.
 */
export async function rank(options: RankOptions): Promise<RankingResult> {
  const file = typeof options.embeddings === 'string' ? await readEmbeddingFile(options.embeddings) : { embeddings: options.embeddings };
  const labels = typeof options.labels === 'string' ? await readLabelFile(options.labels) : (options.labels ?? ('labels' in file ? file.labels : undefined));
  if (!labels) throw new UserInputError('labels: no labels given and the embedding file carries none', 'labels');
  const task = options.task ?? ('task' in file ? file.task : undefined) ?? 'classification';
  const scorer = options.scorer ?? (await selectScorer()).scorer;
  const target = await prepareTargetFor(scorer, file.embeddings, encodeLabels(labels, task));
  const pool = 'total' in options.esms ? options.esms : await folderPool(options.esms);
  return rankPool(target, pool.entries(), pool.total, { ...options, scorer });
}
