import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { z } from 'zod';
import { listModels, modelFolder } from '../embed/model-folder.js';
import { UserInputError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readTextDataset } from '../io/dataset.js';
import { TABLE_FORMATS, tableFormatOf, type TableFormat } from '../io/tables.js';
import { encodeLabels } from '../logme/labels.js';
import { listEsmIds } from '../store/esms.js';
import { isFinished } from '../store/jobs.js';
import type { ServerContext } from './context.js';
import { esmFilter, INLINE_INPUT, type RankingSpec } from './execute.js';
import { handler, type Handler } from './handler.js';
import { JOBS_DIR, type JobEvent } from './jobs.js';
import { HttpProblem, problemResponse, type Problem } from './problem.js';
import { deleteRanking, getRanking, postRanking, rankingEvents } from './routes.js';
import type { RankingRequest, RankingUpload, SourceFilter } from './schemas.js';

/** A validated target, ready to become a job. */
interface PreparedRanking {
  readonly spec: RankingSpec;
  readonly writeInput: (dir: string) => Promise<void>;
}

/** How long an idle event stream waits before a keep-alive comment, so proxies do not close it. */
const KEEP_ALIVE_MS = 15_000;

/** Refuses a model that is not a usable folder under the models root, without naming server paths. */
async function checkModel(ctx: ServerContext, name: string): Promise<void> {
  modelFolder(name, ctx.modelsDir);
  const found = (await listModels(ctx.modelsDir)).find((m) => m.name === name);
  if (!found) throw new HttpProblem('invalid-input', `model: there is no model "${name}" (GET /v1/models lists the models there are)`, 'model');
  if (!found.ready) throw new HttpProblem('invalid-input', `model: ${name} cannot be used: ${found.problem}`, 'model');
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

async function fromJson(ctx: ServerContext, request: z.infer<typeof RankingRequest>): Promise<PreparedRanking> {
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
  const format: TableFormat | undefined = form.format ?? tableFormatOf(form.file.name);
  if (!format) throw new HttpProblem('invalid-input', `format: cannot tell the format of "${form.file.name}"; name it (${TABLE_FORMATS.join(', ')})`, 'format');
  await checkModel(ctx, form.model);
  const uploads = ctx.registry.resolve(join(JOBS_DIR, '.uploads'));
  await mkdir(uploads, { recursive: true });
  const stored = join(uploads, `${randomUUID()}.${format}`);
  await writeFile(stored, new Uint8Array(await form.file.arrayBuffer()));
  const task_type = form.task_type ?? 'classification';
  const file = {
    name: `dataset.${format}`,
    format,
    text_columns: typeof form.text_column === 'string' ? [form.text_column] : form.text_column,
    label_column: form.label_column,
    num_examples: form.num_examples,
    seed: form.seed,
  };
  let rows: number;
  try {
    const dataset = await readTextDataset(stored, { textColumns: file.text_columns, labelColumn: file.label_column, task: task_type, format, numExamples: file.num_examples, seed: file.seed });
    rows = dataset.texts.length;
  } catch (error) {
    await rm(stored, { force: true });
    if (error instanceof UserInputError) throw new HttpProblem('invalid-input', error.message.replace(/^dataset: /, 'file: ').replaceAll(stored, form.file.name || 'the upload'), 'file');
    throw error;
  }
  const { base_model_name, language, task_id, esm_architecture, esm_embedding_dim } = form;
  const filters: SourceFilter = Object.fromEntries(Object.entries({ base_model_name, language, task_id, esm_architecture, esm_embedding_dim }).filter(([, v]) => v !== undefined));
  return {
    spec: { input: 'file', rows, task_type, model: form.model, pooling: form.pooling, top: form.top, candidates: form.candidates, filters, file },
    writeInput: (dir) => rename(stored, join(dir, file.name)),
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
  const job = await ctx.jobs.create(spec, prepared.writeInput);
  const location = { location: `/v1/rankings/${job.id}` };
  if (!synchronous) {
    ctx.jobs.enqueue(job.id);
    return c.json(ctx.jobs.view(job), 202, location);
  }
  await ctx.jobs.runNow(job.id);
  const done = ctx.jobs.get(job.id);
  // A synchronous ranking that failed answers with the job's problem, as any failed request would.
  if (done.state === 'failed' && done.error) return problemResponse(done.error as Problem);
  return c.json(ctx.jobs.view(done), isFinished(done.state) ? 200 : 202, location);
}

/** Streams a job's events: the current state first, then progress until it ends. */
function streamEvents(ctx: ServerContext, id: string, c: Context): Response {
  ctx.jobs.get(id);
  return streamSSE(c, async (stream) => {
    const pending: JobEvent[] = [];
    let wake: (() => void) | undefined;
    const unsubscribe = ctx.jobs.subscribe(id, (event) => {
      pending.push(event);
      wake?.();
    });
    let closed = false;
    stream.onAbort(() => {
      closed = true;
      wake?.();
    });
    try {
      // Read after subscribing, so an event between the two is not missed.
      const current = ctx.jobs.view(ctx.jobs.get(id));
      if (isFinished(current.status)) {
        await stream.writeSSE({ event: current.status, data: JSON.stringify(current) });
        return;
      }
      await stream.writeSSE({ event: 'progress', data: JSON.stringify(current.progress) });
      while (!closed) {
        if (pending.length === 0) {
          let timer: NodeJS.Timeout | undefined;
          await new Promise<void>((resolve) => {
            wake = resolve;
            timer = setTimeout(resolve, KEEP_ALIVE_MS);
          });
          clearTimeout(timer);
          wake = undefined;
          if (pending.length === 0 && !closed) await stream.write(': keep-alive\n\n');
          continue;
        }
        // Only the newest progress matters to a client that fell behind.
        const events = pending.splice(0);
        const end = events.find((e) => e.type !== 'progress');
        if (end?.type === 'end') {
          await stream.writeSSE({ event: end.job.status, data: JSON.stringify(end.job) });
          return;
        }
        if (end?.type === 'closing') {
          await stream.writeSSE({ event: 'closing', data: JSON.stringify({ detail: 'the server is shutting down; reconnect to follow the job' }) });
          return;
        }
        const last = events[events.length - 1];
        if (last.type === 'progress') await stream.writeSSE({ event: 'progress', data: JSON.stringify(last.progress) });
      }
    } finally {
      unsubscribe();
    }
  });
}

export function rankingHandlers(ctx: ServerContext): Handler[] {
  return [
    handler(postRanking, async ({ query, body }, c) => {
      const preferAsync = query.async === 'true' || /\brespond-async\b/i.test(c.req.header('prefer') ?? '');
      const prepared = body.type === 'json' ? await fromJson(ctx, body.value) : await fromUpload(ctx, body.value);
      return createRanking(ctx, prepared, preferAsync, c);
    }),
    handler(getRanking, ({ params }, c) => c.json(ctx.jobs.view(ctx.jobs.get(params.id)))),
    handler(rankingEvents, ({ params }, c) => streamEvents(ctx, params.id, c)),
    handler(deleteRanking, async ({ params }, c) => c.json(await ctx.jobs.cancel(params.id))),
  ];
}
