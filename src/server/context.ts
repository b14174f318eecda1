import { join, resolve } from 'node:path';
import { dataDir as defaultDataDir, modelsDir as defaultModelsDir } from '../config.js';
import { type HubConfig, hubConfig } from '../hub/config.js';
import { finetuneJobType } from '../jobs/finetune-job.js';
import { pullJobType } from '../jobs/pull-job.js';
import { rankingJobType } from '../jobs/ranking-job.js';
import { JobRunner } from '../jobs/runner.js';
import { WorkerPool } from '../jobs/worker-pool.js';
import { openRegistry, type Registry } from '../store/database.js';
import type { JobKind } from '../store/jobs.js';
import { checkBearerToken } from './http/auth.js';
import { ServiceMetrics } from './http/metrics.js';
import { hubProblem, type Problem, problemFor } from './http/problem.js';
import { withoutServerPaths } from './http/redact.js';

/** What the service accepts; each is settable by an environment variable (`limitsFromEnv`). */
export interface ServerLimits {
  /** Largest request body, uploads included (ESMSELECT_MAX_BODY_MB). */
  readonly bodyBytes: number;
  /** Most target rows given inline as texts or embeddings (ESMSELECT_MAX_INLINE_ROWS). */
  readonly inlineRows: number;
  /** A ranking answers synchronously when its target has at most this many rows (ESMSELECT_SYNC_MAX_ROWS) ... */
  readonly syncRows: number;
  /** ... and its pool at most this many ESMs (ESMSELECT_SYNC_MAX_ESMS); otherwise it answers 202 with a job. */
  readonly syncEsms: number;
  /** Synchronous rankings waiting for their turn; past this, requests are queued as jobs (202). */
  readonly syncWaiting: number;
  /** Ranking jobs waiting in their queue; past this, a ranking that would be queued is refused (503 with Retry-After). */
  readonly queuedRankings: number;
  /** Fine-tunes waiting in their queue; past this, a new one is refused (503 with Retry-After) before its upload is stored. */
  readonly queuedFinetunes: number;
  /** Longest a ranking job may run; then it is stopped and fails. */
  readonly rankingMs: number;
  /** Longest a fine-tune may run (each start of it, after a restart too); then its process is killed and it fails. */
  readonly finetuneMs: number;
  /** Pulls of ESMs from the Hub waiting in their queue; past this, a new one is refused (503 with Retry-After). */
  readonly queuedPulls: number;
  /** Longest a pull may run (each start of it); then it stops and fails, keeping what it registered. */
  readonly pullMs: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  bodyBytes: 64 * 2 ** 20,
  inlineRows: 10_000,
  syncRows: 512,
  syncEsms: 2000,
  syncWaiting: 256,
  queuedRankings: 32,
  queuedFinetunes: 8,
  rankingMs: 60 * 60_000,
  finetuneMs: 24 * 60 * 60_000,
  queuedPulls: 8,
  pullMs: 6 * 60 * 60_000,
};

const LIMIT_VARIABLES: Record<keyof ServerLimits, [variable: string, scale: number]> = {
  bodyBytes: ['ESMSELECT_MAX_BODY_MB', 2 ** 20],
  inlineRows: ['ESMSELECT_MAX_INLINE_ROWS', 1],
  syncRows: ['ESMSELECT_SYNC_MAX_ROWS', 1],
  syncEsms: ['ESMSELECT_SYNC_MAX_ESMS', 1],
  syncWaiting: ['ESMSELECT_SYNC_MAX_WAITING', 1],
  queuedRankings: ['ESMSELECT_MAX_QUEUED_RANKINGS', 1],
  queuedFinetunes: ['ESMSELECT_MAX_QUEUED_FINETUNES', 1],
  rankingMs: ['ESMSELECT_MAX_RANKING_MINUTES', 60_000],
  finetuneMs: ['ESMSELECT_MAX_FINETUNE_MINUTES', 60_000],
  queuedPulls: ['ESMSELECT_MAX_QUEUED_PULLS', 1],
  pullMs: ['ESMSELECT_MAX_PULL_MINUTES', 60_000],
};

/** The environment variable that sets a limit, for messages. */
export function limitVariable(key: keyof ServerLimits): string {
  return LIMIT_VARIABLES[key][0];
}

/** The limits set in the environment, over the defaults; a value that is not a non-negative number is refused. */
export function limitsFromEnv(env: NodeJS.ProcessEnv = process.env): ServerLimits {
  const limits = { ...DEFAULT_LIMITS };
  for (const [key, [variable, scale]] of Object.entries(LIMIT_VARIABLES) as [keyof ServerLimits, [string, number]][]) {
    const raw = env[variable];
    if (raw === undefined || raw === '') continue;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${variable}=${raw}: expected a non-negative number`);
    limits[key] = Math.floor(value * scale);
  }
  return limits;
}

export interface ServerOptions {
  /** Default: `dataDir()` (ESMSELECT_DATA_DIR, else data/). */
  readonly dataDir?: string;
  /** Default: `modelsDir()` (ESMSELECT_MODELS_DIR, else models/). */
  readonly modelsDir?: string;
  /** Requests (but /healthz, /readyz and the docs) must carry `Authorization: Bearer <token>`. */
  readonly token?: string;
  readonly limits?: Partial<ServerLimits>;
  /** The worker threads; default a pool of the context's own, closed with it (tests share one). */
  readonly workers?: WorkerPool;
  /** Start the job queue (default true); tests of restarts create jobs with it stopped. */
  readonly startJobs?: boolean;
  /** Where the server's own messages go (default stderr). Never given a token or a request's headers. */
  readonly log?: (line: string) => void;
  /** The Hugging Face Hub to pull from; default from HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE when a request needs it. */
  readonly hub?: HubConfig;
}

/** Everything the handlers share: one registry connection, the job runner, the metrics. */
export interface ServerContext {
  readonly registry: Registry;
  readonly dataDir: string;
  readonly modelsDir: string;
  /** `POST /v1/esms` imports only from under here. */
  readonly importRoot: string;
  readonly token: string | undefined;
  readonly limits: ServerLimits;
  readonly jobs: JobRunner;
  /** Where the CPU work of requests runs: parsing bodies, reading uploads, ranking jobs. */
  readonly workers: WorkerPool;
  readonly metrics: ServiceMetrics;
  readonly log: (line: string) => void;
  /** The Hugging Face Hub's configuration (read from the environment when first needed). */
  hubConfig(): HubConfig;
  /** Stops the jobs (see `JobRunner.close`), the worker threads it owns, and closes the registry. */
  close(graceMs: number): Promise<void>;
}

/** Where `POST /v1/esms` imports from, relative to the data dir. */
export const IMPORTS_DIR = 'imports';

/** What a failed job records: the problem document its error is answered as (a pull's, as a Hub failure). */
function jobFailure(error: unknown, kind: JobKind): { record: Problem; internal: boolean } {
  const { problem } = problemFor(kind === 'pull' ? hubProblem(error) : error);
  return { record: problem, internal: problem.status >= 500 };
}

export function createServerContext(options: ServerOptions = {}): ServerContext {
  if (options.token) checkBearerToken(options.token);
  const registry = openRegistry({ dataDir: options.dataDir ?? defaultDataDir() });
  const modelsDir = resolve(options.modelsDir ?? defaultModelsDir());
  const sink = options.log ?? ((line: string) => process.stderr.write(`esmselect: ${line}\n`));
  const log = (line: string) => sink(withoutServerPaths({ dataDir: registry.dataDir, modelsDir }, line));
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const metrics = new ServiceMetrics(registry);
  const workers = options.workers ?? new WorkerPool();
  const hub = () => options.hub ?? hubConfig();
  const types = [
    rankingJobType({ registry, modelsDir, workers, onScored: (n) => metrics.countScored(n) }),
    finetuneJobType({ registry, modelsDir, log }),
    pullJobType({ registry, hub }),
  ];
  const bounds = {
    ranking: {
      queued: limits.queuedRankings,
      runMs: limits.rankingMs,
      settings: { queued: limitVariable('queuedRankings'), runMs: limitVariable('rankingMs') },
    },
    finetune: {
      queued: limits.queuedFinetunes,
      runMs: limits.finetuneMs,
      settings: { queued: limitVariable('queuedFinetunes'), runMs: limitVariable('finetuneMs') },
    },
    pull: { queued: limits.queuedPulls, runMs: limits.pullMs, settings: { queued: limitVariable('queuedPulls'), runMs: limitVariable('pullMs') } },
  };
  const jobs = new JobRunner({ registry, types, syncWaiting: limits.syncWaiting, bounds, failure: jobFailure, log });
  if (options.startJobs ?? true) {
    const requeued = jobs.start();
    if (requeued.length)
      log(
        `${requeued.length} job(s) were running when the server last stopped; they run again (fine-tunes from their last checkpoint): ${requeued.join(', ')}`,
      );
  }
  return {
    registry,
    dataDir: registry.dataDir,
    modelsDir,
    importRoot: join(registry.dataDir, IMPORTS_DIR),
    token: options.token || undefined,
    limits,
    jobs,
    workers,
    metrics,
    log,
    hubConfig: hub,
    async close(graceMs) {
      await jobs.close(graceMs);
      if (!options.workers) await workers.close();
      registry.close();
    },
  };
}
