import { join, resolve } from 'node:path';
import { dataDir as defaultDataDir, modelsDir as defaultModelsDir } from '../config.js';
import { hubConfig, type HubConfig } from '../hub/config.js';
import { openRegistry, type Registry } from '../store/database.js';
import { finetuneJobType } from './finetune-job.js';
import { JobRunner } from './jobs.js';
import { Metrics } from './metrics.js';
import { pullJobType } from './pull-job.js';
import { rankingJobType } from './ranking-job.js';

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
}

export const DEFAULT_LIMITS: ServerLimits = { bodyBytes: 64 * 2 ** 20, inlineRows: 10_000, syncRows: 512, syncEsms: 2000, syncWaiting: 256 };

const LIMIT_VARIABLES: Record<keyof ServerLimits, [variable: string, scale: number]> = {
  bodyBytes: ['ESMSELECT_MAX_BODY_MB', 2 ** 20],
  inlineRows: ['ESMSELECT_MAX_INLINE_ROWS', 1],
  syncRows: ['ESMSELECT_SYNC_MAX_ROWS', 1],
  syncEsms: ['ESMSELECT_SYNC_MAX_ESMS', 1],
  syncWaiting: ['ESMSELECT_SYNC_MAX_WAITING', 1],
};

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
  /** `POST /v1/sources` imports only from under here. */
  readonly importRoot: string;
  readonly token: string | undefined;
  readonly limits: ServerLimits;
  readonly jobs: JobRunner;
  readonly metrics: Metrics;
  readonly log: (line: string) => void;
  /** The Hugging Face Hub's configuration (read from the environment when first needed). */
  hubConfig(): HubConfig;
  /** Stops the jobs (see `JobRunner.close`) and closes the registry. */
  close(graceMs: number): Promise<void>;
}

/** Where `POST /v1/sources` imports from, relative to the data dir. */
export const IMPORTS_DIR = 'imports';

export function createServerContext(options: ServerOptions = {}): ServerContext {
  const registry = openRegistry({ dataDir: options.dataDir ?? defaultDataDir() });
  const log = options.log ?? ((line: string) => process.stderr.write(`esmselect: ${line}\n`));
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const metrics = new Metrics(registry);
  const modelsDir = resolve(options.modelsDir ?? defaultModelsDir());
  const hub = () => options.hub ?? hubConfig();
  const types = [rankingJobType({ registry, modelsDir, onScored: (n) => metrics.countScored(n) }), finetuneJobType({ registry, modelsDir, log }), pullJobType({ registry, hub })];
  const jobs = new JobRunner({ registry, types, syncWaiting: limits.syncWaiting, log });
  if (options.startJobs ?? true) {
    const requeued = jobs.start();
    if (requeued.length) log(`${requeued.length} job(s) were running when the server last stopped; they run again (fine-tunes from their last checkpoint): ${requeued.join(', ')}`);
  }
  return {
    registry,
    dataDir: registry.dataDir,
    modelsDir,
    importRoot: join(registry.dataDir, IMPORTS_DIR),
    token: options.token || undefined,
    limits,
    jobs,
    metrics,
    log,
    hubConfig: hub,
    async close(graceMs) {
      await jobs.close(graceMs);
      registry.close();
    },
  };
}
