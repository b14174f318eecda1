import { connect } from 'node:net';
import { type ConnectionOptions, type IRedisClient, Job, Queue, QueueEvents } from 'bullmq';
import { z } from 'zod';
import { UserInputError } from '../errors.js';
import type { BatchUnitResult } from '../store/batches.js';
import { type BatchPlan, type BatchUnitRef, shardSources } from './plan.js';
import type { EsmRef } from './pool.js';
import { type BatchTarget, decodeBatchTarget, encodeBatchTarget } from './targets.js';

/** The BullMQ queue every coordinator and worker of esmselect batches shares. */
export const BATCH_QUEUE = 'esmselect-batch';

/** How long targets and finished jobs stay in Redis: long enough for a coordinator stopped overnight to collect them. */
export const BATCH_TTL_SECONDS = 7 * 24 * 3600;

/** One (target, shard) unit as a queue job: what a worker on another machine needs to compute it. */
export interface UnitJobData {
  readonly plan: string;
  /** The target's copy in Redis is under `targetKey(fingerprint)`. */
  readonly target: { readonly name: string; readonly fingerprint: string };
  readonly shard: number;
  readonly scorer: string;
  readonly refs: readonly EsmRef[];
}

/** A unit's result as JSON: null where an ESM was rejected (problems by position). */
export interface UnitJobResult {
  readonly scores: (number | null)[];
  readonly problems: Record<string, string> | null;
  readonly worker: string;
  readonly seconds: number;
}

const unitJobResultSchema = z.object({
  scores: z.array(z.number().nullable()),
  problems: z.record(z.string(), z.string()).nullable(),
  worker: z.string(),
  seconds: z.number(),
});

export function targetKey(fingerprint: string): string {
  return `esmselect:batch:target:${fingerprint}`;
}

/** The same unit of the same plan is the same job, so a coordinator started again finds its jobs. */
export function unitJobId(plan: BatchPlan, unit: BatchUnitRef): string {
  return `${plan.fingerprint.slice(0, 24)}-t${unit.target}-s${unit.shard}`;
}

export function toJobResult(result: BatchUnitResult, worker: string, seconds: number): UnitJobResult {
  return { scores: Array.from(result.scores, (s) => (Number.isFinite(s) ? s : null)), problems: result.problems, worker, seconds };
}

/** A worker's result, checked: it must have a score (or null) for every ESM of the shard. */
export function fromJobResult(value: unknown, expected: number): BatchUnitResult & { worker: string; seconds: number } {
  const parsed = unitJobResultSchema.safeParse(value);
  if (!parsed.success || parsed.data.scores.length !== expected) throw new Error(`a worker returned a malformed result (expected ${expected} scores)`);
  const { worker, seconds, problems } = parsed.data;
  return { scores: Float64Array.from(parsed.data.scores, (s) => s ?? NaN), problems: problems as Record<number, string> | null, worker, seconds };
}

/** BullMQ connection options for `redis://HOST:PORT[/DB]` (or `rediss://` for TLS). */
export function queueConnection(url: string): ConnectionOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UserInputError(`--queue: "${url}" is not a URL; expected redis://HOST:PORT`, 'queue');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new UserInputError(`--queue: "${url}" is not a redis:// URL`, 'queue');
  // Workers block on Redis: BullMQ needs commands to wait for a reconnection rather than give up.
  return { url, maxRetriesPerRequest: null };
}

/**
 * Fails with a one-line UserInputError when nothing accepts connections at the URL's host and port
 * within `timeoutMs`. Checked with a plain TCP connection before BullMQ is involved: its clients
 * would retry forever (and report a refused connection only as events).
 */
export async function checkReachable(url: string, timeoutMs = 10_000): Promise<void> {
  queueConnection(url);
  const { hostname, port } = new URL(url);
  const hint = 'is redis-server running there?';
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host: hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(port || 6379) });
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new UserInputError(`--queue: no answer from ${url} within ${timeoutMs / 1000} s; ${hint}`, 'queue'));
    });
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
    socket.once('error', (error) => reject(new UserInputError(`--queue: cannot reach ${url} (${error.message}); ${hint}`, 'queue')));
  });
}

/** Stores a target for the workers; BullMQ's client speaks strings, so the bytes go as base64. */
export async function putTarget(client: IRedisClient, target: BatchTarget): Promise<void> {
  await client.set(targetKey(target.fingerprint), Buffer.from(encodeBatchTarget(target)).toString('base64'), { EX: BATCH_TTL_SECONDS });
}

/** The target a coordinator stored, checked against its fingerprint; undefined once it expired. */
export async function getTarget(client: IRedisClient, fingerprint: string): Promise<BatchTarget | undefined> {
  const text = await client.get(targetKey(fingerprint));
  return text === null ? undefined : decodeBatchTarget(Buffer.from(text, 'base64'), fingerprint);
}

export interface QueueRunOptions {
  readonly url: string;
  readonly signal?: AbortSignal;
  /** Merges a finished unit (idempotently: it may come twice). */
  readonly onUnit: (unit: BatchUnitRef, result: BatchUnitResult, worker: string, seconds: number) => void;
  readonly onQueued?: (queued: { readonly added: number; readonly waiting: number }) => void;
  /** How often jobs are looked up directly, besides the completion events (missed while disconnected). */
  readonly reconcileMs?: number;
}

/**
 * The coordinator's side of a distributed batch: stores the targets in Redis, adds one BullMQ job per
 * pending unit (or finds the job already there from an earlier start), and merges each job's result
 * as it completes, until every unit is in. Workers (`startBatchWorker`) compute the jobs; a job whose
 * worker dies is moved back to the queue by BullMQ's stalled-job check and computed again elsewhere.
 * A job that fails `attempts` times stops the batch with its reason; running the coordinator again
 * retries it.
 */
export async function runOnQueue(plan: BatchPlan, pending: readonly BatchUnitRef[], options: QueueRunOptions): Promise<void> {
  const connection = queueConnection(options.url);
  await checkReachable(options.url);
  const queue = new Queue<UnitJobData, UnitJobResult>(BATCH_QUEUE, { connection });
  const events = new QueueEvents(BATCH_QUEUE, { connection });
  // Errors surface through the commands that fail; without listeners they would also be thrown as events.
  queue.on('error', () => {});
  events.on('error', () => {});
  try {
    await events.waitUntilReady();
    const client = await queue.client;
    for (const t of new Set(pending.map((u) => u.target))) await putTarget(client, plan.targets[t]);

    const waiting = new Map(pending.map((unit) => [unitJobId(plan, unit), unit]));
    let failure: Error | undefined;
    let wake = () => {};
    const settle = async (jobId: string): Promise<void> => {
      if (!waiting.has(jobId)) return;
      const job = await Job.fromId<UnitJobData, UnitJobResult>(queue, jobId);
      const state = job ? await job.getState() : 'unknown';
      const unit = waiting.get(jobId);
      if (!job || !unit) return;
      if (state === 'completed') {
        waiting.delete(jobId);
        const result = fromJobResult(job.returnvalue, shardSources(plan, unit.shard).length);
        options.onUnit(unit, result, result.worker, result.seconds);
        wake();
      } else if (state === 'failed') {
        failure ??= new Error(
          `job ${jobId} (target "${plan.targets[unit.target].name}", shard ${unit.shard}) failed ${job.attemptsMade} times: ${job.failedReason}`,
        );
        wake();
      }
    };
    const settleLogged = (jobId: string) => {
      settle(jobId).catch((error: Error) => {
        failure ??= error;
        wake();
      });
    };
    events.on('completed', ({ jobId }) => settleLogged(jobId));
    events.on('failed', ({ jobId }) => settleLogged(jobId));

    const toAdd: BatchUnitRef[] = [];
    for (const [jobId, unit] of waiting) {
      const job = await Job.fromId(queue, jobId);
      if (!job) toAdd.push(unit);
      else if ((await job.getState()) === 'failed') await job.retry('failed');
      else await settle(jobId);
    }
    const jobOptions = {
      attempts: 3,
      backoff: { type: 'exponential', delay: 2000 },
      removeOnComplete: { age: BATCH_TTL_SECONDS },
      removeOnFail: { age: BATCH_TTL_SECONDS },
    };
    for (let start = 0; start < toAdd.length; start += 500) {
      await queue.addBulk(
        toAdd.slice(start, start + 500).map((unit) => {
          const target = plan.targets[unit.target];
          const data: UnitJobData = {
            plan: plan.fingerprint,
            target: { name: target.name, fingerprint: target.fingerprint },
            shard: unit.shard,
            scorer: plan.scorer,
            refs: shardSources(plan, unit.shard).map((s) => s.ref),
          };
          return { name: 'score', data, opts: { ...jobOptions, jobId: unitJobId(plan, unit) } };
        }),
      );
    }
    options.onQueued?.({ added: toAdd.length, waiting: waiting.size });

    const reconcileMs = options.reconcileMs ?? 5000;
    while (waiting.size > 0 && !failure) {
      options.signal?.throwIfAborted();
      const woken = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), reconcileMs);
        const done = () => {
          clearTimeout(timer);
          options.signal?.removeEventListener('abort', done);
          resolve(true);
        };
        wake = done;
        options.signal?.addEventListener('abort', done, { once: true });
      });
      if (!woken) for (const jobId of [...waiting.keys()]) await settle(jobId);
    }
    options.signal?.throwIfAborted();
    if (failure) throw failure;
  } finally {
    await events.close();
    await queue.close();
  }
}
