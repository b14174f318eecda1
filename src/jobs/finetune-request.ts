import { join } from 'node:path';
import { readTextDataset } from '../dataset/text-dataset.js';
import type { TextTask } from '../finetune/data.js';
import type { StageSettings } from '../finetune/settings.js';
import type { TableFormat } from '../io/tables.js';
import { readHubSourceTask, readRegisteredTask, taskFromDataset } from '../registry/sources.js';
import type { Registry } from '../store/database.js';
import { getDataset } from '../store/datasets.js';
import type { TaskType } from '../task/labels.js';

/** An uploaded dataset as a fine-tune keeps it: a file of its input directory and how to read it. */
export interface UploadedTask {
  /** The file's name in the job's input directory (the server's choice). */
  readonly file: string;
  readonly format: TableFormat;
  readonly text_columns: string[];
  readonly label_column: string;
  readonly task_type: TaskType;
  readonly task_id: string;
  readonly rows: number;
}

/** A registered source task: its dataset in the registry, and how the request chose it. */
export interface RegisteredSource {
  readonly dataset_id: number;
  readonly task_id: string;
  readonly rows: number;
  readonly source_id?: number;
  readonly ranking_id?: string;
  readonly rank?: number;
}

/** A published source task read from the Hub: its dataset, the commit of the conversion read, and how the request chose it. */
export interface HubSource {
  /** hf://datasets/ORG/NAME */
  readonly dataset: string;
  readonly subset: string;
  readonly split: string;
  readonly revision: string;
  readonly text_column: string | string[];
  readonly label_column: string;
  readonly task_id: string;
  readonly rows: number;
  readonly source_id?: number;
  readonly ranking_id?: string;
  readonly rank?: number;
}

/**
 * What a fine-tune job needs to run, kept in its row so it can start again after a restart; the
 * uploaded files wait in the job's input directory, the checkpoints go to `finetunes/<id>/`.
 */
export interface FinetuneRequest {
  readonly model: string;
  readonly source: { readonly upload: UploadedTask } | { readonly registered: RegisteredSource } | { readonly hub: HubSource };
  readonly target: UploadedTask;
  readonly intermediate: StageSettings;
  readonly target_stage: StageSettings;
}

async function readUploadedTask(inputDir: string, task: UploadedTask): Promise<TextTask> {
  const columns = { textColumns: task.text_columns, labelColumn: task.label_column };
  return taskFromDataset(task.task_id, await readTextDataset(join(inputDir, task.file), { ...columns, task: task.task_type, format: task.format }), columns);
}

/** The job's source and target tasks, read again from its input directory and the registry's data dir. */
export async function readFinetuneTasks(request: FinetuneRequest, inputDir: string, registry: Registry): Promise<{ source: TextTask; target: TextTask }> {
  const source =
    'upload' in request.source
      ? await readUploadedTask(inputDir, request.source.upload)
      : 'hub' in request.source
        ? (await readHubSourceTask(hubSourceData(request.source.hub), { dataDir: registry.dataDir, revision: request.source.hub.revision })).task
        : await readRegisteredTask(getDataset(registry, request.source.registered.dataset_id), registry.dataDir);
  return { source, target: await readUploadedTask(inputDir, request.target) };
}

function hubSourceData(hub: HubSource) {
  return { dataset: hub.dataset, taskId: hub.task_id, subset: hub.subset, split: hub.split, textColumn: hub.text_column, labelColumn: hub.label_column };
}

/** A fine-tune's request as its view shows it back (the API's FinetuneJob.request). */
export type FinetuneRequestView = {
  readonly model: string;
  readonly source: {
    readonly task_id: string;
    readonly rows: number;
    readonly dataset_id?: number;
    readonly hub?: { readonly dataset: string; readonly subset: string; readonly split: string; readonly revision: string };
    readonly source_id?: number;
    readonly ranking_id?: string;
    readonly rank?: number;
  };
  readonly target: { readonly task_id: string; readonly rows: number };
  readonly intermediate_settings: StageSettings;
  readonly target_settings: StageSettings;
};

/** The request as the API shows it back: the tasks by id and size, never the server's file names. */
export function requestView(request: FinetuneRequest): FinetuneRequestView {
  const { source } = request;
  const { task_id, rows } = 'upload' in source ? source.upload : 'hub' in source ? source.hub : source.registered;
  const chosen = 'registered' in source ? source.registered : 'hub' in source ? source.hub : undefined;
  const registered = 'registered' in source ? { dataset_id: source.registered.dataset_id } : undefined;
  const hub =
    'hub' in source ? { hub: { dataset: source.hub.dataset, subset: source.hub.subset, split: source.hub.split, revision: source.hub.revision } } : undefined;
  return {
    model: request.model,
    source: { task_id, rows, ...registered, ...hub, ...(chosen && { source_id: chosen.source_id, ranking_id: chosen.ranking_id, rank: chosen.rank }) },
    target: { task_id: request.target.task_id, rows: request.target.rows },
    intermediate_settings: request.intermediate,
    target_settings: request.target_stage,
  };
}
