import { UserInputError } from '../errors.js';
import { findEsmFolders, readEsmFolders } from '../esm/pool.js';
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
  /** ESM folders, or directories searched recursively for them. */
  readonly esms: readonly string[];
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
  const folders = await findEsmFolders(options.esms);
  return rankPool(target, readEsmFolders(folders), folders.length, { ...options, scorer });
}
