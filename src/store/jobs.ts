import { UserInputError } from '../errors.js';
import type { Registry } from './database.js';

export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** What the HTTP service runs as jobs: rankings, two-stage fine-tunes, and pulls of ESMs from the Hub. */
export const JOB_KINDS = ['ranking', 'finetune', 'pull'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/** States a job never leaves. */
export function isFinished(state: JobState): boolean {
  return state === 'succeeded' || state === 'failed' || state === 'cancelled';
}

/**
 * How far a job has come: `fraction` from 0 to 1 over all its stages, the stage it is in, and an
 * estimate of the time left; a kind adds its own fields (a fine-tune's epoch, step and loss).
 */
export interface JobProgress {
  readonly fraction: number;
  readonly stage: string;
  readonly eta_seconds: number | null;
  readonly [detail: string]: unknown;
}

/** A job as the registry keeps it. `request` is what the runner needs to start it again after a restart. */
export interface StoredJob {
  readonly id: string;
  readonly kind: JobKind;
  readonly state: JobState;
  readonly request: Record<string, unknown>;
  /** A ranking's result: the ranking run holding it, once the job succeeded. */
  readonly run_id: number | null;
  /** Another kind's result, once the job succeeded. */
  readonly result: Record<string, unknown> | null;
  /** Why the job failed (an RFC 9457 problem), once it did. */
  readonly error: Record<string, unknown> | null;
  readonly progress: JobProgress | null;
  /** How often a process stopped while running it and it was started again. */
  readonly restarts: number;
  readonly created_at: string;
  readonly started_at: string | null;
  readonly finished_at: string | null;
}

/** A ranking job. */
export type RankingJob = StoredJob & { readonly kind: 'ranking' };

type Row = Omit<StoredJob, 'request' | 'result' | 'error' | 'progress'> & {
  request: string;
  result: string | null;
  error: string | null;
  progress: string | null;
};

const NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

function parsed<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

function toJob(row: Row): StoredJob {
  return {
    ...row,
    request: JSON.parse(row.request) as Record<string, unknown>,
    result: parsed(row.result),
    error: parsed(row.error),
    progress: parsed(row.progress),
  };
}

export function createJob(registry: Registry, id: string, kind: JobKind, request: Record<string, unknown>): StoredJob {
  return registry.write(() => {
    registry.db.prepare("INSERT INTO jobs (id, kind, state, request) VALUES (?, ?, 'queued', ?)").run(id, kind, JSON.stringify(request));
    return getJob(registry, id);
  });
}

export function findJob(registry: Registry, id: string): StoredJob | undefined {
  const row = registry.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as Row | undefined;
  return row && toJob(row);
}

export function getJob(registry: Registry, id: string): StoredJob {
  const job = findJob(registry, id);
  if (!job) throw new UserInputError(`id: there is no job ${id}`, 'id');
  return job;
}

/** queued → running; false when the job is no longer queued (cancelled meanwhile). */
export function startJob(registry: Registry, id: string): boolean {
  return registry.write(
    () => registry.db.prepare(`UPDATE jobs SET state = 'running', started_at = ${NOW} WHERE id = ? AND state = 'queued'`).run(id).changes > 0,
  );
}

export function saveProgress(registry: Registry, id: string, progress: JobProgress): void {
  registry.write(() => registry.db.prepare("UPDATE jobs SET progress = ? WHERE id = ? AND state = 'running'").run(JSON.stringify(progress), id));
}

/** How a job succeeded: a ranking run, or another kind's result document. */
export type JobSuccess = { readonly runId: number } | { readonly result: Record<string, unknown> };

export type JobOutcome =
  | ({ readonly state: 'succeeded' } & JobSuccess)
  | { readonly state: 'failed'; readonly error: Record<string, unknown> }
  | { readonly state: 'cancelled' };

/**
 * Ends a job that has not ended yet; returns false if it had (a cancel racing the runner: the
 * first ending wins).
 */
export function finishJob(registry: Registry, id: string, outcome: JobOutcome): boolean {
  const runId = outcome.state === 'succeeded' && 'runId' in outcome ? outcome.runId : null;
  const result = outcome.state === 'succeeded' && 'result' in outcome ? JSON.stringify(outcome.result) : null;
  const error = outcome.state === 'failed' ? JSON.stringify(outcome.error) : null;
  return registry.write(
    () =>
      registry.db
        .prepare(`UPDATE jobs SET state = ?, run_id = ?, result = ?, error = ?, finished_at = ${NOW} WHERE id = ? AND state IN ('queued', 'running')`)
        .run(outcome.state, runId, result, error, id).changes > 0,
  );
}

/** running → queued, for a job stopped by a shutdown before it finished; it starts again from its input. */
export function requeueJob(registry: Registry, id: string): void {
  registry.write(() => registry.db.prepare("UPDATE jobs SET state = 'queued', started_at = NULL, progress = NULL WHERE id = ? AND state = 'running'").run(id));
}

/**
 * At start-up: jobs left `running` belong to a process that stopped without finishing them. They
 * are queued again, counted in `restarts`. Returns their ids.
 */
export function requeueInterrupted(registry: Registry): string[] {
  return registry.write(() => {
    const ids = registry.db.prepare("SELECT id FROM jobs WHERE state = 'running' ORDER BY created_at, id").pluck().all() as string[];
    registry.db.prepare("UPDATE jobs SET state = 'queued', restarts = restarts + 1, started_at = NULL, progress = NULL WHERE state = 'running'").run();
    return ids;
  });
}

/** The queued jobs of a kind, oldest first: the order they run in. */
export function queuedJobIds(registry: Registry, kind: JobKind): string[] {
  return registry.db.prepare("SELECT id FROM jobs WHERE kind = ? AND state = 'queued' ORDER BY created_at, id").pluck().all(kind) as string[];
}

export function countJobsByState(registry: Registry, kind: JobKind): Record<JobState, number> {
  const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
  for (const { state, n } of registry.db.prepare('SELECT state, count(*) AS n FROM jobs WHERE kind = ? GROUP BY state').all(kind) as {
    state: JobState;
    n: number;
  }[])
    counts[state] = n;
  return counts;
}
