import { stat } from 'node:fs/promises';
import { UserInputError } from '../errors.js';
import { readTextDataset } from '../io/dataset.js';
import type { RankingResult } from '../rank/ranking.js';
import type { Registry } from '../store/database.js';
import { getDataset, listDatasets, type DatasetRecord } from '../store/datasets.js';
import { getRankingRun } from '../store/rankings.js';
import type { TextTask } from './data.js';

/** The source task a ranking entry stands for, as a fine-tuning request needs it. */
export interface RankedSource {
  readonly rank: number;
  readonly taskId: string;
  readonly subset: string | null;
  readonly split: string | null;
  readonly textColumn: string | string[] | null;
  readonly labelColumn: string | null;
  /** The base model the ESM was trained for: the fine-tune must start from it for the ranking to hold. */
  readonly baseModelName: string;
}

/**
 * "Fine-tune with this source": the source task at `rank` (1-based) of a ranking. The HTTP API
 * takes a ranking id and a rank; the server looks the ranking up and resolves the task's dataset.
 */
export function sourceFromRanking(result: RankingResult, rank: number): RankedSource {
  const entry = result.ranking.find((t) => t.rank === rank);
  if (!entry) {
    const ranks = result.ranking.length ? `1 to ${result.ranking.length}` : 'none: the ranking is empty';
    throw new UserInputError(`rank: ${rank} is not in the ranking (ranks: ${ranks})`, 'rank');
  }
  return {
    rank,
    taskId: entry.task_id,
    subset: entry.task_subset,
    split: entry.task_split,
    textColumn: entry.text_column,
    labelColumn: entry.label_column,
    baseModelName: entry.base_model_name,
  };
}

/**
 * The registered dataset of a source task: by its registry id, or the one whose name, subset and
 * split are a ranking entry's task_id, task_subset and task_split.
 */
export function findSourceDataset(registry: Registry, source: number | RankedSource): DatasetRecord {
  if (typeof source === 'number') return getDataset(registry, source);
  const found = listDatasets(registry).find((d) => d.name === source.taskId && d.subset === source.subset && d.split === source.split);
  if (!found) {
    const slice = [source.subset, source.split].filter((s) => s !== null).join(', ');
    throw new UserInputError(`source: no registered dataset is the task ${source.taskId}${slice ? ` (${slice})` : ''}; register its data file first`, 'source');
  }
  return found;
}

/** "Fine-tune with this source" for a stored ranking: the registered dataset of the task at `rank` of ranking run `runId`. */
export function findRankedSourceDataset(registry: Registry, runId: number, rank: number): DatasetRecord {
  return findSourceDataset(registry, sourceFromRanking(getRankingRun(registry, runId).result, rank));
}

/**
 * Reads a registered dataset as a source task. Its name must be a local data file (esmselect does
 * not download datasets), and it must say which columns hold the text and the label; the task's id
 * (the ESM's task_id) is that name.
 */
export async function readRegisteredTask(record: DatasetRecord): Promise<TextTask> {
  const where = `dataset #${record.id} (${record.name})`;
  if (!(await stat(record.name).catch(() => null))?.isFile()) {
    throw new UserInputError(`source: ${where} is not a local file; esmselect reads datasets from files (register the exported file)`, 'source');
  }
  if (record.text_column === null || record.label_column === null) throw new UserInputError(`source: ${where} has no ${record.text_column === null ? 'text' : 'label'} column registered`, 'source');
  const task = record.task_type ?? 'classification';
  const dataset = await readTextDataset(record.name, { textColumns: record.text_column, labelColumn: record.label_column, task });
  return { id: record.name, task, texts: dataset.texts, labels: dataset.labels, subset: record.subset, split: record.split, textColumn: record.text_column, labelColumn: record.label_column };
}
