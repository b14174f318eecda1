import { hostname } from 'node:os';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { PoolEntry } from '../esm/pool.js';
import { type EsmScorer, prepareTargetFor } from '../rank/ranking.js';
import { SCORER_NAMES, type ScorerName, selectScorer } from '../rank/scorers.js';
import type { PreparedTarget } from '../rank/target.js';
import type { Registry } from '../store/database.js';
import { loadShard } from './pool.js';
import { BATCH_QUEUE, BATCH_TTL_SECONDS, checkReachable, getTarget, queueConnection, toJobResult, type UnitJobData, type UnitJobResult } from './queue.js';
import { scoreUnit } from './score-unit.js';

export interface BatchWorkerOptions {
  readonly url: string;
  /** How the worker appears in logs and job records; default `host:pid`. */
  readonly name?: string;
  /**
   * How long a job's lock lasts without renewal (BullMQ's lockDuration; renewed at half of it while
   * the job runs). A worker that dies loses its jobs to another worker after about this long.
   */
  readonly lockDuration?: number;
  /** How often this worker looks for jobs whose worker died (BullMQ's stalledInterval). */
  readonly stalledInterval?: number;
  /** The registry that registry pools are read from, by ESM identity (opened when first needed). */
  readonly registry: () => Registry;
  readonly onEvent?: (event: WorkerEvent) => void;
}

export type WorkerEvent =
  | { readonly type: 'started'; readonly jobId: string; readonly target: string; readonly shard: number; readonly esms: number; readonly attempt: number }
  | { readonly type: 'done'; readonly jobId: string; readonly seconds: number; readonly scored: number; readonly rejected: number }
  | { readonly type: 'failed'; readonly jobId: string; readonly reason: string }
  | { readonly type: 'error'; readonly reason: string };

export interface RunningBatchWorker {
  readonly name: string;
  /** Finishes the job in hand, then stops. */
  close(): Promise<void>;
}

/** Prepared targets kept per worker; at D = 768 each is a few MB. */
const TARGET_CACHE_SIZE = 32;

/**
 * A worker of distributed batches (`esmselect worker`): takes (target, shard) jobs from the queue one
 * at a time and scores them with the scorer the batch was planned with. It reads the target from
 * Redis (where the coordinator put it) and the shard's ESMs from the same folders (shared storage)
 * or from its own registry by identity. Jobs come in shard order, so the last shard read is kept for
 * the next job, and prepared targets are kept for the next shard.
 */
export async function startBatchWorker(options: BatchWorkerOptions): Promise<RunningBatchWorker> {
  const name = options.name ?? `${hostname()}:${process.pid}`;
  const connection = queueConnection(options.url);
  await checkReachable(options.url);
  const scorers = new Map<string, Promise<EsmScorer>>();
  const targets = new Map<string, Promise<PreparedTarget>>();
  let lastShard: { key: string; entries: Promise<PoolEntry[]> } | undefined;

  const scorerFor = (scorer: string): Promise<EsmScorer> => {
    if (!(SCORER_NAMES as readonly string[]).includes(scorer))
      throw new UnrecoverableError(`the batch wants scorer "${scorer}", which this esmselect does not know`);
    let selected = scorers.get(scorer);
    if (!selected) {
      selected = selectScorer({ scorer: scorer as ScorerName }).then((s) => s.scorer);
      // A scorer unavailable here (no native addon) may be available on another worker: retry there.
      selected.catch(() => scorers.delete(scorer));
      scorers.set(scorer, selected);
    }
    return selected;
  };

  const targetFor = async (data: UnitJobData, scorer: EsmScorer): Promise<PreparedTarget> => {
    const key = `${data.target.fingerprint}:${scorer.name}`;
    let prepared = targets.get(key);
    if (!prepared) {
      prepared = (async () => {
        const target = await getTarget(await worker.client, data.target.fingerprint);
        if (!target)
          throw new UnrecoverableError(
            `target "${data.target.name}" is no longer in Redis (kept ${BATCH_TTL_SECONDS / 86400} days); run the coordinator again`,
          );
        return prepareTargetFor(scorer, target.embeddings, target.labels);
      })();
      prepared.catch(() => targets.delete(key));
      targets.set(key, prepared);
      if (targets.size > TARGET_CACHE_SIZE) targets.delete(targets.keys().next().value!);
    }
    return prepared;
  };

  const shardFor = (data: UnitJobData): Promise<PoolEntry[]> => {
    const key = `${data.plan}:${data.shard}`;
    if (lastShard?.key !== key) {
      const entries = loadShard(data.refs, options.registry);
      entries.catch(() => {
        if (lastShard?.entries === entries) lastShard = undefined;
      });
      lastShard = { key, entries };
    }
    return lastShard.entries;
  };

  const processJob = async (job: Job<UnitJobData, UnitJobResult>): Promise<UnitJobResult> => {
    const { data } = job;
    options.onEvent?.({ type: 'started', jobId: job.id!, target: data.target.name, shard: data.shard, esms: data.refs.length, attempt: job.attemptsStarted });
    const scorer = await scorerFor(data.scorer);
    const [target, entries] = await Promise.all([targetFor(data, scorer), shardFor(data)]);
    const started = performance.now();
    const result = await scoreUnit(scorer, target, entries);
    const seconds = (performance.now() - started) / 1000;
    const rejected = Object.keys(result.problems ?? {}).length;
    options.onEvent?.({ type: 'done', jobId: job.id!, seconds, scored: entries.length - rejected, rejected });
    return toJobResult(result, name, seconds);
  };

  const worker: Worker<UnitJobData, UnitJobResult> = new Worker(BATCH_QUEUE, processJob, {
    connection,
    name,
    autorun: false,
    // The native scorer already uses every core for one job.
    concurrency: 1,
    lockDuration: options.lockDuration ?? 60_000,
    stalledInterval: options.stalledInterval ?? 30_000,
    // A job is moved back to the queue when its worker dies, up to twice; a third time it fails.
    maxStalledCount: 2,
  });
  worker.on('failed', (job, error) => options.onEvent?.({ type: 'failed', jobId: job?.id ?? '?', reason: error.message }));
  worker.on('error', (error) => options.onEvent?.({ type: 'error', reason: error.message }));
  // Resolves when the worker is closed; errors while running come as 'error' events.
  void worker.run();
  return { name, close: () => worker.close() };
}
