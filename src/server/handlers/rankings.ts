import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from 'hono';
import type { z } from 'zod';
import { ESM_FILTER_FIELDS, type EsmFilter } from '../../esm/filter.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { INLINE_INPUT, type RankingSpec } from '../../jobs/ranking.js';
import { listEsmIds } from '../../store/esms.js';
import { isFinished, type StoredJob } from '../../store/jobs.js';
import type { ServerContext } from '../context.js';
import { BodyThreads } from '../http/body-threads.js';
import { type Handler, handler } from '../http/handler.js';
import { jobPath, jobResource, withLinks } from '../http/job-resource.js';
import { HttpProblem, type Problem, problemResponse } from '../http/problem.js';
import { deleteRanking, getRanking, postRanking, rankingEvents } from '../http/routes.js';
import type { RankingUpload } from '../http/schemas.js';
import { streamEvents } from '../http/sse.js';
import { checkModel, discardUpload, readUpload, storeUpload } from './inputs.js';
import { checkOptions } from './ranking-request.js';

/** A validated target, ready to become a job. */
interface PreparedRanking {
  readonly spec: RankingSpec;
  readonly writeInput: (dir: string) => Promise<void>;
  /** Removes what was stored of it (an upload) when no job takes it. */
  readonly discard: () => Promise<void>;
}

/**
 * An inline target (JSON) is validated on a worker thread (a 10 MB text or 10,000 rows of
 * embeddings are seconds of parsing there) and kept as it came, the job's input.
 */
async function fromJson(ctx: ServerContext, body: ArrayBuffer): Promise<PreparedRanking> {
  const { spec, bytes } = await new BodyThreads(ctx.workers).checkInlineTarget(body, ctx.limits.inlineRows, ctx.dataDir);
  if (spec.model !== undefined) await checkModel(ctx, spec.model);
  return { spec, writeInput: (dir) => writeFileAtomic(join(dir, INLINE_INPUT), new Uint8Array(bytes)), discard: async () => {} };
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
    text_columns: form.text_column,
    label_column: form.label_column,
    num_examples: form.num_examples,
    seed: form.seed,
  };
  const rows = await readUpload(ctx, stored, 'file', {
    textColumns: file.text_columns,
    labelColumn: file.label_column,
    task: task_type,
    numExamples: file.num_examples,
    seed: file.seed,
  });
  const filters: EsmFilter = Object.fromEntries(ESM_FILTER_FIELDS.filter((field) => form[field] !== undefined).map((field) => [field, form[field]]));
  return {
    spec: { input: 'file', rows, task_type, model: form.model, pooling: form.pooling, top: form.top, candidates: form.candidates, filters, file },
    writeInput: (dir) => rename(stored.path, join(dir, file.name)),
    discard: () => discardUpload(stored),
  };
}

function poolSize(ctx: ServerContext, filters: EsmFilter): number {
  const size = listEsmIds(ctx.registry, filters).length;
  if (size === 0) {
    throw new HttpProblem(
      'invalid-input',
      Object.keys(filters).length
        ? 'filters: no registered ESM matches the filters (GET /v1/esms lists them)'
        : 'filters: the registry has no ESMs; add some with POST /v1/esms',
      'filters',
    );
  }
  return size;
}

/** A small ranking runs now, in its caller's time; a larger one is queued, if the queue has room. */
async function createRanking(ctx: ServerContext, prepared: PreparedRanking, preferAsync: boolean, c: Context): Promise<Response> {
  const { spec } = prepared;
  let job: StoredJob;
  let synchronous: boolean;
  try {
    const esms = poolSize(ctx, spec.filters);
    synchronous = !preferAsync && spec.rows <= ctx.limits.syncRows && esms <= ctx.limits.syncEsms && ctx.jobs.canRunNow;
    job = synchronous ? await ctx.jobs.create('ranking', spec, prepared.writeInput) : await ctx.jobs.submit('ranking', spec, prepared.writeInput);
  } catch (error) {
    await prepared.discard();
    throw error;
  }
  const location = { location: jobPath('ranking', job.id) };
  if (!synchronous) return c.json(jobResource(ctx, job), 202, location);
  await ctx.jobs.runNow(job.id);
  const done = ctx.jobs.get(job.id, 'ranking');
  // A synchronous ranking that failed answers with the job's problem, as any failed request would.
  if (done.state === 'failed' && done.error) return problemResponse(done.error as Problem);
  return c.json(jobResource(ctx, done), isFinished(done.state) ? 200 : 202, location);
}

function prefersAsync(query: { async?: string }, c: Context): boolean {
  return query.async === 'true' || /\brespond-async\b/i.test(c.req.header('prefer') ?? '');
}

export function rankingHandlers(ctx: ServerContext): Handler[] {
  return [
    handler(
      postRanking,
      async ({ query, body }, c) => {
        const prepared = body.type === 'json' ? await fromJson(ctx, body.value) : await fromUpload(ctx, body.value);
        return createRanking(ctx, prepared, prefersAsync(query, c), c);
      },
      {
        rawJson: true,
        // A ranking asked to be a job needs room in the queue; others may still run synchronously (checked once their size is known).
        before: ({ query }, c) => {
          if (prefersAsync(query, c)) ctx.jobs.checkRoom('ranking');
        },
      },
    ),
    handler(getRanking, ({ params }, c) => c.json(jobResource(ctx, ctx.jobs.get(params.id, 'ranking')))),
    handler(rankingEvents, ({ params }, c) => streamEvents(ctx, 'ranking', params.id, c)),
    handler(deleteRanking, async ({ params }, c) => c.json(withLinks(await ctx.jobs.cancel(params.id, 'ranking'), 'ranking'))),
  ];
}
