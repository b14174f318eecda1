import { realpath, stat } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { readTextDataset, type TextDataset } from '../dataset/text-dataset.js';
import { UserInputError } from '../errors.js';
import type { TextTask } from '../finetune/data.js';
import { hubDatasetUri } from '../hub/dataset-uri.js';
import type { HubDatasetOptions, HubDatasetSource } from '../hub/parquet-dataset.js';
import { isRepoId } from '../hub/repo-files.js';
import type { RankingResult } from '../rank/ranking.js';
import type { Registry } from '../store/database.js';
import { type DatasetRecord, getDataset, listDatasets } from '../store/datasets.js';
import { getRankingRun } from '../store/rankings.js';

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
export function findSourceDataset(registry: Registry, source: number | Pick<RankedSource, 'taskId' | 'subset' | 'split'>): DatasetRecord {
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

/** A dataset read from a file as the task `id`, with the columns it was read from (they describe the task in its ESM). */
export function taskFromDataset(
  id: string,
  dataset: TextDataset,
  columns: { readonly textColumns: string | readonly string[]; readonly labelColumn: string },
): TextTask {
  const { textColumns, labelColumn } = columns;
  const textColumn = typeof textColumns === 'string' || textColumns.length !== 1 ? textColumns : textColumns[0];
  return { id, task: dataset.task, texts: dataset.texts, labels: dataset.labels, textColumn, labelColumn };
}

/**
 * The file a registered dataset names. With a `root` (the HTTP service passes its data dir), a
 * relative name is taken from there, and the file, links resolved, must lie inside it.
 */
export async function registeredDatasetFile(record: DatasetRecord, root?: string): Promise<string> {
  const where = `dataset #${record.id} (${record.name})`;
  const path = root === undefined ? record.name : resolve(root, record.name);
  if (!(await stat(path).catch(() => null))?.isFile()) {
    throw new UserInputError(
      `source: ${where} is not a local file${root === undefined ? '' : ' in the data directory'}; esmselect reads datasets from files (register the exported file)`,
      'source',
    );
  }
  if (root !== undefined) {
    if (!(await realpath(path)).startsWith((await realpath(root)) + sep)) {
      throw new UserInputError(`source: ${where} lies outside the data directory, where the service reads only`, 'source');
    }
  }
  return path;
}

/**
 * Reads a registered dataset as a source task. Its name must be a local data file (esmselect does
 * not download datasets; see `registeredDatasetFile` for `root`), and it must say which columns hold
 * the text and the label; the task's id (the ESM's task_id) is that name.
 */
export async function readRegisteredTask(record: DatasetRecord, root?: string): Promise<TextTask> {
  const path = await registeredDatasetFile(record, root);
  if (record.text_column === null || record.label_column === null) {
    throw new UserInputError(
      `source: dataset #${record.id} (${record.name}) has no ${record.text_column === null ? 'text' : 'label'} column registered`,
      'source',
    );
  }
  const columns = { textColumns: record.text_column, labelColumn: record.label_column };
  const dataset = await readTextDataset(path, { ...columns, task: record.task_type ?? 'classification' });
  return { ...taskFromDataset(record.name, dataset, columns), subset: record.subset, split: record.split };
}

/**
 * A source task's data on the Hugging Face Hub, as a published ESM's config names it: hfselect's
 * ESMConfig has the dataset (`task_id`), its subset and split, and the columns it was trained on.
 */
export interface HubSourceData {
  /** `hf://datasets/<task_id>`. */
  readonly dataset: string;
  readonly taskId: string;
  readonly subset: string | null;
  readonly split: string | null;
  readonly textColumn: string | string[];
  readonly labelColumn: string;
}

/** The Hub dataset a source task names, when its task_id is a Hub dataset id and it names its text and label columns; else null. */
export function publishedSourceData(source: Pick<RankedSource, 'taskId' | 'subset' | 'split' | 'textColumn' | 'labelColumn'>): HubSourceData | null {
  const { taskId, textColumn, labelColumn } = source;
  if (!isRepoId(taskId) || textColumn === null || (Array.isArray(textColumn) && textColumn.length === 0) || labelColumn === null) return null;
  return { dataset: hubDatasetUri(taskId), taskId, subset: source.subset, split: source.split, textColumn, labelColumn };
}

/** Where a source task's data is: a registered dataset, else the Hub dataset its ESM names. */
export type SourceData = { readonly registered: DatasetRecord } | { readonly hub: HubSourceData };

/**
 * "Fine-tune with this source" for any ranked or registered source task: its registered dataset
 * when there is one, else, for a published ESM, the Hub dataset its config names (read from the
 * Hub's Parquet conversion). Neither: one line saying so.
 */
export function locateSourceData(registry: Registry, source: Pick<RankedSource, 'taskId' | 'subset' | 'split' | 'textColumn' | 'labelColumn'>): SourceData {
  try {
    return { registered: findSourceDataset(registry, source) };
  } catch (error) {
    const hub = publishedSourceData(source);
    if (hub) return { hub };
    if (!(error instanceof UserInputError)) throw error;
    throw new UserInputError(
      `${error.message.replace(/; register its data file first$/, '')}, and its ESM names no Hub dataset with text and label columns; register its data file first`,
      'source',
    );
  }
}

/**
 * Reads a published source task from the Hub (through the data dir's cache; `revision` pins the
 * commit of the conversion, as a job reading again what its request read). Classification, as
 * hfselect's published ESMs are; the task keeps the ESM's task_id and the subset and split read.
 */
export async function readHubSourceTask(
  source: HubSourceData,
  options: Pick<HubDatasetOptions, 'dataDir' | 'revision' | 'onDownload'> = {},
): Promise<{ task: TextTask; hub: HubDatasetSource }> {
  const columns = { textColumns: source.textColumn, labelColumn: source.labelColumn };
  const dataset = await readTextDataset(source.dataset, { ...columns, subset: source.subset ?? undefined, split: source.split ?? undefined, hub: options });
  const hub = dataset.hub!;
  return { task: { ...taskFromDataset(source.taskId, dataset, columns), subset: hub.subset, split: hub.split }, hub };
}
