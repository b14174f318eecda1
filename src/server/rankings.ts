import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from 'hono';
import type { z } from 'zod';
import { writeFileAtomic } from '../io/atomic.js';
import { encodeLabels } from '../logme/labels.js';
import { listEsmIds } from '../store/esms.js';
import { isFinished } from '../store/jobs.js';
import type { ServerContext } from './context.js';
import { streamEvents } from './events.js';
import { esmFilter, INLINE_INPUT, readHubTarget, type RankingSpec } from './execute.js';
import { handler, type Handler } from './handler.js';
import { checkModel, hubProblem, readUpload, storeUpload } from './inputs.js';
import { HttpProblem, problemResponse, type Problem } from './problem.js';
import { deleteRanking, getRanking, postRanking, rankingEvents } from './routes.js';
import type { HubDatasetTarget, RankingRequest, RankingUpload, SourceFilter } from './schemas.js';

/** A validated target, ready to become a job. */
interface PreparedRanking {
  readonly spec: RankingSpec;
  readonly writeInput: (dir: string) => Promise<void>;
}

function checkOptions(options: { top?: number; candidates?: number }): void {
  if (options.top !== undefined && options.candidates !== undefined && options.candidates < options.top) {
    throw new HttpProblem('invalid-input', `candidates: ${options.candidates} candidates cannot give the top ${options.top}`, 'candidates');
  }
}

function checkInlineRows(ctx: ServerContext, field: string, rows: number): void {
  if (rows > ctx.limits.inlineRows) {
    throw new HttpProblem('invalid-input', `${field}: ${rows} rows; at most ${ctx.limits.inlineRows} go inline (upload the dataset as a file instead)`, field);
  }
}

/**
 * A Hub dataset is read (downloaded into the data dir's cache) and validated now, so an unknown
 * dataset, subset, split or column is answered at once; the job reads the same commit again.
 */
async function fromHubDataset(ctx: ServerContext, request: z.infer<typeof HubDatasetTarget>): Promise<PreparedRanking> {
  checkOptions(request);
  await checkModel(ctx, request.model);
  const task_type = request.task_type ?? 'classification';
  const target = { dataset: request.dataset, subset: request.subset, split: request.split, text_columns: typeof request.text_column === 'string' ? [request.text_column] : request.text_column, label_column: request.label_column, num_examples: request.num_examples, seed: request.seed };
  let read;
  try {
    read = await readHubTarget(target, task_type, ctx.dataDir);
  } catch (error) {
    throw hubProblem(ctx, error, 'dataset');
  }
  const { subset, split, revision } = read.hub!;
  return {
    spec: { input: 'hub', rows: read.texts.length, task_type, model: request.model, pooling: request.pooling, top: request.top, candidates: request.candidates, filters: request.filters ?? {}, hub: { ...target, subset, split, revision } },
    writeInput: async () => {},
  };
}

async function fromJson(ctx: ServerContext, request: z.infer<typeof RankingRequest>): Promise<PreparedRanking> {
  if ('dataset' in request) return fromHubDataset(ctx, request);
  checkOptions(request);
  const task_type = request.task_type ?? 'classification';
  // Label problems (one class, mixed kinds) surface now rather than in the job.
  encodeLabels(request.labels, task_type);
  const common = { task_type, top: request.top, candidates: request.candidates, filters: request.filters ?? {} };
  if ('texts' in request) {
    checkInlineRows(ctx, 'texts', request.texts.length);
    await checkModel(ctx, request.model);
    const { texts, labels } = request;
    return {
      spec: { input: 'texts', rows: texts.length, model: request.model, pooling: request.pooling, ...common },
      writeInput: (dir) => writeFileAtomic(join(dir, INLINE_INPUT), JSON.stringify({ texts, labels })),
    };
  }
  checkInlineRows(ctx, 'embeddings', request.embeddings.length);
  const { embeddings, labels } = request;
  return {
    spec: { input: 'embeddings', rows: embeddings.length, ...common },
    writeInput: (dir) => writeFileAtomic(join(dir, INLINE_INPUT), JSON.stringify({ embeddings, labels })),
  };
}

/**
 * An uploaded dataset is stored under the data dir (never under a name the client chose), read and
 * validated at once, so a bad column or label is answered now; its job then reads it again.
 */
async function fromUpload(ctx: ServerContext, form: z.infer<typeof RankingUpload>): Promise<PreparedRanking> {
  checkOptions(form);
  await checkModel(ctx, form.model);
  const stored = await storeUpload(ctx, form.file, 'format', form.format);
  const task_type = form.task_type ?? 'classification';
  const file = {
    name: `dataset.${stored.format}`,
    format: stored.format,
    text_columns: typeof form.text_column === 'string' ? [form.text_column] : form.text_column,
    label_column: form.label_column,
    num_examples: form.num_examples,
    seed: form.seed,
  };
  const dataset = await readUpload(stored, 'file', { textColumns: file.text_columns, labelColumn: file.label_column, task: task_type, numExamples: file.num_examples, seed: file.seed });
  const { base_model_name, language, task_id, esm_architecture, esm_embedding_dim } = form;
  const filters: SourceFilter = Object.fromEntries(Object.entries({ base_model_name, language, task_id, esm_architecture, esm_embedding_dim }).filter(([, v]) => v !== undefined));
  return {
    spec: { input: 'file', rows: dataset.texts.length, task_type, model: form.model, pooling: form.pooling, top: form.top, candidates: form.candidates, filters, file },
    writeInput: (dir) => rename(stored.path, join(dir, file.name)),
  };
}

function poolSize(ctx: ServerContext, filters: SourceFilter): number {
  const size = listEsmIds(ctx.registry, esmFilter(filters)).length;
  if (size === 0) {
    throw new HttpProblem('invalid-input', Object.keys(filters).length ? 'filters: no registered ESM matches the filters (GET /v1/sources lists them)' : 'filters: the registry has no ESMs; add some with POST /v1/sources', 'filters');
  }
  return size;
}

async function createRanking(ctx: ServerContext, prepared: PreparedRanking, preferAsync: boolean, c: Context): Promise<Response> {
  const { spec } = prepared;
  const esms = poolSize(ctx, spec.filters);
  const synchronous = !preferAsync && spec.rows <= ctx.limits.syncRows && esms <= ctx.limits.syncEsms && ctx.jobs.canRunNow;
  const job = await ctx.jobs.create('ranking', spec, prepared.writeInput);
  const location = { location: `/v1/rankings/${job.id}` };
  if (!synchronous) {
    ctx.jobs.enqueue(job);
    return c.json(ctx.jobs.view(job), 202, location);
  }
  await ctx.jobs.runNow(job.id);
  const done = ctx.jobs.get(job.id, 'ranking');
  // A synchronous ranking that failed answers with the job's problem, as any failed request would.
  if (done.state === 'failed' && done.error) return problemResponse(done.error as Problem);
  return c.json(ctx.jobs.view(done), isFinished(done.state) ? 200 : 202, location);
}

export function rankingHandlers(ctx: ServerContext): Handler[] {
  return [
    handler(postRanking, async ({ query, body }, c) => {
      const preferAsync = query.async === 'true' || /\brespond-async\b/i.test(c.req.header('prefer') ?? '');
      const prepared = body.type === 'json' ? await fromJson(ctx, body.value) : await fromUpload(ctx, body.value);
      return createRanking(ctx, prepared, preferAsync, c);
    }),
    handler(getRanking, ({ params }, c) => c.json(ctx.jobs.view(ctx.jobs.get(params.id, 'ranking')))),
    handler(rankingEvents, ({ params }, c) => streamEvents(ctx, 'ranking', params.id, c)),
    handler(deleteRanking, async ({ params }, c) => c.json(await ctx.jobs.cancel(params.id, 'ranking'))),
  ];
}
