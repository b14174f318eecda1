import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import { UserInputError } from '../../errors.js';
import { resolveStageSettings } from '../../finetune/settings.js';
import { HubUnavailableError } from '../../hub/hub-errors.js';
import type { TableFormat } from '../../io/tables.js';
import type { FinetuneRequest, HubSource, RegisteredSource, UploadedTask } from '../../jobs/finetune-request.js';
import { locateSourceData, type SourceData, sourceFromRanking } from '../../registry/sources.js';
import { getEsm } from '../../store/esms.js';
import { findJob } from '../../store/jobs.js';
import { getRankingRun } from '../../store/rankings.js';
import type { TaskType } from '../../task/labels.js';
import type { ServerContext } from '../context.js';
import { type Handler, handler } from '../http/handler.js';
import { jobResource, withLinks } from '../http/job-resource.js';
import { HttpProblem } from '../http/problem.js';
import { deleteFinetune, finetuneEvents, getFinetune, postFinetune } from '../http/routes.js';
import { type FinetuneUpload, TASK_ID_MAX_LENGTH } from '../http/schemas.js';
import { streamEvents } from '../http/sse.js';
import { checkFinetuneModel, discardUpload, readUpload, type StoredUpload, storeUpload } from './inputs.js';

type Form = z.infer<typeof FinetuneUpload>;

/** A source task of the registry chosen by a request: where its data is, the base model its ESM is for, and the field that chose it. */
interface ChosenSource {
  readonly data: SourceData;
  readonly baseModel: string;
  readonly field: 'esm_id' | 'source_id' | 'rank';
  readonly via: Pick<RegisteredSource, 'source_id' | 'ranking_id' | 'rank'>;
}

/** A library error about the source, answered as a problem of `field` (its paths are redacted with every response; 503 when the Hub fails). */
function sourceProblem(kind: 'invalid-input' | 'conflict', field: string, error: unknown): HttpProblem {
  if (!(error instanceof UserInputError)) throw error;
  return new HttpProblem(
    error instanceof HubUnavailableError ? 'unavailable' : kind,
    `${field}: ${error.message.replace(/^(source|rank|dataset|subset|split): /, '')}`,
    field,
  );
}

/**
 * The data behind `esm_id` (an ESM of the registry; `source_id` is its deprecated alias, and
 * problems name the field the request used) or `ranking_id` + `rank` (a ranked task): its
 * registered dataset, else the Hub dataset a published ESM names.
 */
function chooseSource(ctx: ServerContext, form: Form): ChosenSource {
  const { registry } = ctx;
  const esmId = form.esm_id ?? form.source_id;
  if (esmId !== undefined) {
    const field = form.esm_id !== undefined ? 'esm_id' : 'source_id';
    let esm: ReturnType<typeof getEsm>;
    try {
      esm = getEsm(registry, esmId);
    } catch (error) {
      if (!(error instanceof UserInputError)) throw error;
      throw new HttpProblem('invalid-input', `${field}: there is no ESM #${esmId} (GET /v1/esms lists them)`, field);
    }
    let data: SourceData;
    try {
      data = locateSourceData(registry, {
        taskId: esm.task_id,
        subset: esm.task_subset,
        split: esm.task_split,
        textColumn: esm.text_column,
        labelColumn: esm.label_column,
      });
    } catch (error) {
      throw sourceProblem('conflict', field, error);
    }
    return { data, baseModel: esm.base_model_name, field, via: { source_id: esmId } };
  }
  const rankingId = form.ranking_id!;
  const rank = form.rank!;
  const ranking = findJob(registry, rankingId);
  if (ranking?.kind !== 'ranking') throw new HttpProblem('invalid-input', `ranking_id: there is no ranking job ${rankingId}`, 'ranking_id');
  if (ranking.state !== 'succeeded')
    throw new HttpProblem('conflict', `ranking_id: ranking ${rankingId} is ${ranking.state}; only a succeeded ranking has ranks to fine-tune on`, 'ranking_id');
  if (ranking.run_id === null)
    throw new HttpProblem('conflict', `ranking_id: the ranking run of ${rankingId} has been deleted from the registry`, 'ranking_id');
  let ranked: ReturnType<typeof sourceFromRanking>;
  try {
    ranked = sourceFromRanking(getRankingRun(registry, ranking.run_id).result, rank);
  } catch (error) {
    throw sourceProblem('invalid-input', 'rank', error);
  }
  let data: SourceData;
  try {
    data = locateSourceData(registry, ranked);
  } catch (error) {
    throw sourceProblem('conflict', 'rank', error);
  }
  return { data, baseModel: ranked.baseModelName, field: 'rank', via: { ranking_id: rankingId, rank } };
}

/**
 * A task id from an uploaded file's name: its last segment without the extension, cut to
 * TASK_ID_MAX_LENGTH characters (not refused: the client gave a file, not an id; an explicit
 * source_task_id that is too long is refused, as the client's own word is not rewritten).
 */
function taskIdOf(fileName: string, fallback: string): string {
  const id = fileName
    .split(/[\\/]/)
    .pop()!
    .replace(/\.[^.]*$/, '')
    .slice(0, TASK_ID_MAX_LENGTH);
  // Not half a surrogate pair.
  return id.replace(/[\uD800-\uDBFF]$/, '') || fallback;
}

interface UploadFields {
  readonly role: 'source' | 'target';
  readonly file: File;
  readonly fileField: string;
  readonly formatField: string;
  readonly format?: TableFormat;
  readonly textColumns: string[];
  readonly labelColumn: string;
  readonly taskType?: TaskType;
  readonly taskId?: string;
}

/** Stores and reads an uploaded dataset (its problems answered now, naming its fields); `stored` collects what to move or discard. */
async function uploadedTask(ctx: ServerContext, fields: UploadFields, stored: StoredUpload[]): Promise<{ task: UploadedTask; upload: StoredUpload }> {
  const upload = await storeUpload(ctx, fields.file, fields.formatField, fields.format);
  stored.push(upload);
  const task_type = fields.taskType ?? 'classification';
  const rows = await readUpload(ctx, upload, fields.fileField, { textColumns: fields.textColumns, labelColumn: fields.labelColumn, task: task_type });
  return {
    task: {
      file: `${fields.role}.${upload.format}`,
      format: upload.format,
      text_columns: fields.textColumns,
      label_column: fields.labelColumn,
      task_type,
      task_id: fields.taskId ?? taskIdOf(fields.file.name, fields.role),
      rows,
    },
    upload,
  };
}

/**
 * Validates a fine-tune request as far as can be done now: the source (registered and readable, or
 * uploaded), the model, both datasets (columns, labels); then stores it as a queued job.
 */
async function createFinetune(ctx: ServerContext, form: Form) {
  const chosen = form.source_file === undefined ? chooseSource(ctx, form) : undefined;
  if (chosen && form.model !== undefined && form.model !== chosen.baseModel) {
    throw new HttpProblem(
      'invalid-input',
      `model: the ${chosen.field === 'rank' ? 'ranked' : 'registered'} source task's ESM is for ${chosen.baseModel}; fine-tune that model (leave model out)`,
      'model',
    );
  }
  const model = form.model ?? chosen?.baseModel;
  if (model === undefined) throw new HttpProblem('invalid-input', 'model: required with source_file (the base model to fine-tune)', 'model');
  await checkFinetuneModel(ctx, model);
  let registered: RegisteredSource | undefined;
  let hub: HubSource | undefined;
  if (chosen) {
    try {
      if ('registered' in chosen.data) {
        const task = await ctx.workers.countRegisteredTask(chosen.data.registered, ctx.dataDir);
        registered = { dataset_id: chosen.data.registered.id, task_id: task.id, rows: task.rows, ...chosen.via };
      } else {
        // A published ESM's dataset, read from the Hub into the data dir's cache now (on a worker
        // thread); the job reads the same commit again.
        const read = await ctx.workers.readHubSourceTask(chosen.data.hub, ctx.dataDir);
        const { dataset, taskId, textColumn, labelColumn } = chosen.data.hub;
        hub = {
          dataset,
          subset: read.subset,
          split: read.split,
          revision: read.revision,
          text_column: textColumn,
          label_column: labelColumn,
          task_id: taskId,
          rows: read.rows,
          ...chosen.via,
        };
      }
    } catch (error) {
      throw sourceProblem('conflict', chosen.field, error);
    }
  }
  const stored: StoredUpload[] = [];
  try {
    const common = { textColumns: form.text_column, labelColumn: form.label_column };
    const target = await uploadedTask(
      ctx,
      { role: 'target', file: form.target_file, fileField: 'target_file', formatField: 'format', format: form.format, ...common, taskType: form.task_type },
      stored,
    );
    const source =
      form.source_file &&
      (await uploadedTask(
        ctx,
        {
          role: 'source',
          file: form.source_file,
          fileField: 'source_file',
          formatField: 'source_format',
          format: form.source_format,
          textColumns: form.source_text_column ?? form.text_column,
          labelColumn: form.source_label_column ?? form.label_column,
          taskType: form.source_task_type,
          taskId: form.source_task_id,
        },
        stored,
      ));
    const request: FinetuneRequest = {
      model,
      source: source ? { upload: source.task } : hub ? { hub } : { registered: registered! },
      target: target.task,
      intermediate: resolveStageSettings(form.intermediate_settings, 'intermediate'),
      target_stage: resolveStageSettings(form.target_settings, 'target'),
    };
    const moves = [target, ...(source ? [source] : [])];
    return await ctx.jobs.submit('finetune', request, async (dir) => {
      for (const { task, upload } of moves) await rename(upload.path, join(dir, task.file));
    });
  } catch (error) {
    await Promise.all(stored.map(discardUpload));
    throw error;
  }
}

export function finetuneHandlers(ctx: ServerContext): Handler[] {
  return [
    handler(
      postFinetune,
      async ({ body }, c) => {
        const resource = jobResource(ctx, await createFinetune(ctx, body.value));
        return c.json(resource, 202, { location: resource.links.self });
      },
      // A full queue refuses the request before its uploads are read, let alone stored.
      { before: () => ctx.jobs.checkRoom('finetune') },
    ),
    handler(getFinetune, ({ params }, c) => c.json(jobResource(ctx, ctx.jobs.get(params.id, 'finetune')))),
    handler(finetuneEvents, ({ params }, c) => streamEvents(ctx, 'finetune', params.id, c)),
    handler(deleteFinetune, async ({ params }, c) => c.json(withLinks(await ctx.jobs.cancel(params.id, 'finetune'), 'finetune'))),
  ];
}
