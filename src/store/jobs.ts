import { UserInputError } from '../errors.js';
import type { Registry } from './database.js';

export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** States a job never leaves. */
export function isFinished(state: JobState): boolean {
  return state === 'succeeded' || state === 'failed' || state === 'cancelled';
}

/** How far a job has come: `fraction` from 0 to 1 over all its stages, the stage it is in, and an estimate of the time left. */
export interface JobProgress {
  readonly fraction: number;
  readonly stage: string;
  readonly eta_seconds: number | null;
}

/** A ranking job as the registry keeps it. `request` is what the runner needs to start it again after a restart. */
export interface RankingJob {
  readonly id: string;
  readonly state: JobState;
  readonly request: Record<string, unknown>;
  /** The ranking run holding the result, once the job succeeded. */
  readonly run_id: number | null;
  /** Why the job failed (an RFC 9457 problem), once it did. */
  readonly error: Record<string, unknown> | null;
  readonly progress: JobProgress | null;
  /** How often a process stopped while running it and it was started again. */
  readonly restarts: number;
  readonly created_at: string;
  readonly started_at: string | null;
  readonly finished_at: string | null;
}

type Row = Omit<RankingJob, 'request' | 'error' | 'progress'> & { request: string; error: string | null; progress: string | null };

const NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

function toJob(row: Row): RankingJob {
  return {
    ...row,
    request: JSON.parse(row.request) as Record<string, unknown>,
    error: row.error === null ? null : (JSON.parse(row.error) as Record<string, unknown>),
    progress: row.progress === null ? null : (JSON.parse(row.progress) as JobProgress),
  };
}

export function createJob(registry: Registry, id: string, request: Record<string, unknown>): RankingJob {
  return registry.write(() => {
    registry.db.prepare("INSERT INTO ranking_jobs (id, state, request) VALUES (?, 'queued', ?)").run(id, JSON.stringify(request));
    return getJob(registry, id);
  });
}

export function findJob(registry: Registry, id: string): RankingJob | undefined {
  const row = registry.db.prepare('SELECT * FROM ranking_jobs WHERE id = ?').get(id) as Row | undefined;
  return row && toJob(row);
}

export function getJob(registry: Registry, id: string): RankingJob {
  const job = findJob(registry, id);
  if (!job) throw new UserInputError(`id: there is no ranking job ${id}`, 'id');
  return job;
}

/** queued → running; false when the job is no longer queued (cancelled meanwhile). */
export function startJob(registry: Registry, id: string): boolean {
  return registry.write(() => registry.db.prepare(`UPDATE ranking_jobs SET state = 'running', started_at = ${NOW} WHERE id = ? AND state = 'queued'`).run(id).changes > 0);
}

export function saveProgress(registry: Registry, id: string, progress: JobProgress): void {
  registry.write(() => registry.db.prepare("UPDATE ranking_jobs SET progress = ? WHERE id = ? AND state = 'running'").run(JSON.stringify(progress), id));
}

export type JobOutcome = { readonly state: 'succeeded'; readonly runId: number } | { readonly state: 'failed'; readonly error: Record<string, unknown> } | { readonly state: 'cancelled' };

/**
 * Ends a job that has not ended yet; returns false if it had (a cancel racing the runner: the
 * first ending wins).
 */
export function finishJob(registry: Registry, id: string, outcome: JobOutcome): boolean {
  return registry.write(
    () =>
      registry.db
        .prepare(`UPDATE ranking_jobs SET state = ?, run_id = ?, error = ?, finished_at = ${NOW} WHERE id = ? AND state IN ('queued', 'running')`)
        .run(outcome.state, outcome.state === 'succeeded' ? outcome.runId : null, outcome.state === 'failed' ? JSON.stringify(outcome.error) : null, id).changes > 0,
  );
}

/** running → queued, for a job stopped by a shutdown before it finished; it starts again from its input. */
export function requeueJob(registry: Registry, id: string): void {
  registry.write(() => registry.db.prepare("UPDATE ranking_jobs SET state = 'queued', started_at = NULL, progress = NULL WHERE id = ? AND state = 'running'").run(id));
}

/**
 * At start-up: jobs left `running` belong to a process that stopped without finishing them. They
 * are queued again, counted in `restarts`. Returns their ids.
 */
export function requeueInterrupted(registry: Registry): string[] {
  return registry.write(() => {
    const ids = registry.db.prepare("SELECT id FROM ranking_jobs WHERE state = 'running' ORDER BY created_at, id").pluck().all() as string[];
    registry.db.prepare("UPDATE ranking_jobs SET state = 'queued', restarts = restarts + 1, started_at = NULL, progress = NULL WHERE state = 'running'").run();
    return ids;
  });
}

/** The queued jobs, oldest first: the order they run in. */
export function queuedJobIds(registry: Registry): string[] {
  return registry.db.prepare("SELECT id FROM ranking_jobs WHERE state = 'queued' ORDER BY created_at, id").pluck().all() as string[];
}

export function countJobsByState(registry: Registry): Record<JobState, number> {
  const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
  for (const { state, n } of registry.db.prepare('SELECT state, count(*) AS n FROM ranking_jobs GROUP BY state').all() as { state: JobState; n: number }[]) counts[state] = n;
  return counts;
}
