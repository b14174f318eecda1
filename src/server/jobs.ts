import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Registry } from '../store/database.js';
import { createJob, findJob, finishJob, getJob, isFinished, queuedJobIds, requeueInterrupted, requeueJob, saveProgress, startJob, type JobProgress, type RankingJob } from '../store/jobs.js';
import { getRankingRun } from '../store/rankings.js';
import { executeRanking, type RankingSpec } from './execute.js';
import { HttpProblem, problemFor } from './problem.js';
import type { z } from 'zod';
import type { RankingJob as RankingJobSchema } from './schemas.js';

export type JobView = z.infer<typeof RankingJobSchema>;

/** What a job's subscribers hear: progress while it runs, then its end. */
export type JobEvent = { readonly type: 'progress'; readonly progress: JobProgress } | { readonly type: 'end'; readonly job: JobView } | { readonly type: 'closing' };

/** Where jobs keep their input until they end, relative to the data dir. */
export const JOBS_DIR = 'jobs';

/** How often a running job's progress is written to its row (events carry every update). */
const PROGRESS_SAVE_MS = 1000;

/** Abort reasons: a user's cancel ends the job; a shutdown puts it back in the queue. */
const CANCELLED = 'cancelled';
const SHUTDOWN = 'shutdown';

/** A FIFO semaphore that also bounds how many may wait. */
class Limiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly maxWaiting: number,
  ) {}

  get hasRoom(): boolean {
    return this.running < this.concurrency || this.waiting.length < this.maxWaiting;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await work();
    } finally {
      // The slot passes straight to the next waiter, so the count stays right.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

export interface RankingJobsOptions {
  readonly registry: Registry;
  readonly modelsDir: string;
  /** Synchronous rankings run one at a time; this many more may wait for their turn. */
  readonly syncWaiting: number;
  readonly onScored?: (count: number) => void;
  /** Where internal errors of jobs are reported (never the user's input errors). */
  readonly log: (line: string) => void;
}

/**
 * The ranking jobs of the service: persisted in the registry, run one at a time from a queue
 * (the machine is small, and one ranking already uses what it has), or at once for a small
 * synchronous request. Each job's progress goes to its subscribers (SSE) and, throttled, to its
 * row. At start-up, queued jobs are taken up again and jobs a stopped process left running are
 * queued again; a shutdown waits for running jobs for a grace period, then puts them back in the
 * queue with their input, to be run again by the next start.
 */
export class RankingJobs {
  private readonly queue: string[] = [];
  private readonly controllers = new Map<string, AbortController>();
  private readonly runs = new Map<string, Promise<void>>();
  private readonly live = new Map<string, JobProgress>();
  private readonly listeners = new Map<string, Set<(event: JobEvent) => void>>();
  private readonly sync: Limiter;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private closing = false;

  constructor(private readonly options: RankingJobsOptions) {
    this.sync = new Limiter(1, options.syncWaiting);
  }

  private get registry(): Registry {
    return this.options.registry;
  }

  inputDir(id: string): string {
    return this.registry.resolve(join(JOBS_DIR, id));
  }

  /** Takes up the queued jobs and those a stopped process left running (returned), and starts the queue. */
  start(): string[] {
    const requeued = requeueInterrupted(this.registry);
    this.queue.push(...queuedJobIds(this.registry));
    this.loop = this.runQueue();
    return requeued;
  }

  get accepting(): boolean {
    return !this.closing;
  }

  /** Stores a job's input (`writeInput` fills its directory) and its row, queued but not yet scheduled. */
  async create(spec: RankingSpec, writeInput: (dir: string) => Promise<void>): Promise<RankingJob> {
    if (this.closing) throw new HttpProblem('unavailable', 'the server is shutting down; try again shortly', undefined, { 'retry-after': '5' });
    const id = randomUUID();
    const dir = this.inputDir(id);
    await mkdir(dir, { recursive: true });
    try {
      await writeInput(dir);
      return createJob(this.registry, id, { ...spec });
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Puts a created job at the end of the queue. */
  enqueue(id: string): void {
    this.queue.push(id);
    this.wake?.();
  }

  /** Whether a synchronous run can be taken now without too long a wait. */
  get canRunNow(): boolean {
    return !this.closing && this.sync.hasRoom;
  }

  /** Runs a created job in the caller's time (a synchronous request), after the synchronous ones before it. */
  async runNow(id: string): Promise<void> {
    await this.sync.run(() => this.track(id));
  }

  private async runQueue(): Promise<void> {
    while (!this.closing) {
      const id = this.queue.shift();
      if (id === undefined) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      await this.track(id);
    }
  }

  private track(id: string): Promise<void> {
    const run = this.run(id).finally(() => this.runs.delete(id));
    this.runs.set(id, run);
    return run;
  }

  private async run(id: string): Promise<void> {
    if (this.closing || !startJob(this.registry, id)) return;
    const controller = new AbortController();
    this.controllers.set(id, controller);
    let saved = 0;
    try {
      const { runId } = await executeRanking(getJob(this.registry, id).request as unknown as RankingSpec, {
        registry: this.registry,
        modelsDir: this.options.modelsDir,
        inputDir: this.inputDir(id),
        signal: controller.signal,
        onScored: this.options.onScored,
        onProgress: (progress) => {
          const last = this.live.get(id);
          if (last && last.stage === progress.stage && last.fraction === progress.fraction) return;
          this.live.set(id, progress);
          this.emit(id, { type: 'progress', progress });
          if (performance.now() - saved >= PROGRESS_SAVE_MS) {
            saved = performance.now();
            saveProgress(this.registry, id, progress);
          }
        },
      });
      finishJob(this.registry, id, { state: 'succeeded', runId });
    } catch (error) {
      if (controller.signal.reason === SHUTDOWN) {
        requeueJob(this.registry, id);
        return;
      }
      if (controller.signal.reason === CANCELLED) finishJob(this.registry, id, { state: 'cancelled' });
      else {
        const { problem } = problemFor(error);
        if (problem.status >= 500) this.options.log(`job ${id} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        finishJob(this.registry, id, { state: 'failed', error: problem });
      }
    } finally {
      this.controllers.delete(id);
      this.live.delete(id);
    }
    await this.ended(id);
  }

  /** A job has ended: its input goes, and its subscribers hear it. */
  private async ended(id: string): Promise<void> {
    await rm(this.inputDir(id), { recursive: true, force: true });
    this.emit(id, { type: 'end', job: this.view(getJob(this.registry, id)) });
  }

  /** Cancels a queued or running job; a job that has ended is a conflict. */
  async cancel(id: string): Promise<JobView> {
    const job = this.get(id);
    if (isFinished(job.state)) throw new HttpProblem('conflict', `id: job ${id} has already ${job.state === 'cancelled' ? 'been cancelled' : job.state}`, 'id');
    const controller = this.controllers.get(id);
    if (controller) {
      controller.abort(CANCELLED);
      await this.runs.get(id);
    } else if (finishJob(this.registry, id, { state: 'cancelled' })) {
      const queued = this.queue.indexOf(id);
      if (queued >= 0) this.queue.splice(queued, 1);
      await this.ended(id);
    } else {
      // It started between the two looks: cancel the run.
      this.controllers.get(id)?.abort(CANCELLED);
      await this.runs.get(id);
    }
    return this.view(getJob(this.registry, id));
  }

  /** A job by id, as a 404 problem when there is none. */
  get(id: string): RankingJob {
    const job = findJob(this.registry, id);
    if (!job) throw new HttpProblem('not-found', `id: there is no ranking job ${id}`, 'id');
    return job;
  }

  /** A job as the API shows it: live progress while it runs, the ranking once it succeeded. */
  view(job: RankingJob): JobView {
    const progress: JobProgress =
      job.state === 'succeeded'
        ? { fraction: 1, stage: 'done', eta_seconds: 0 }
        : job.state === 'queued'
          ? { fraction: 0, stage: 'queued', eta_seconds: null }
          : isFinished(job.state)
            ? { fraction: job.progress?.fraction ?? 0, stage: 'done', eta_seconds: 0 }
            : (this.live.get(job.id) ?? job.progress ?? { fraction: 0, stage: 'reading', eta_seconds: null });
    const path = `/v1/rankings/${job.id}`;
    return {
      id: job.id,
      status: job.state,
      progress: progress as JobView['progress'],
      restarts: job.restarts,
      created_at: job.created_at,
      started_at: job.started_at,
      finished_at: job.finished_at,
      ...(job.run_id !== null && { result: { run_id: job.run_id, ...getRankingRun(this.registry, job.run_id).result } as JobView['result'] }),
      ...(job.error !== null && { error: job.error as JobView['error'] }),
      links: { self: path, events: `${path}/events` },
    };
  }

  /** Listens to a job's events until the returned function is called. */
  subscribe(id: string, listener: (event: JobEvent) => void): () => void {
    let set = this.listeners.get(id);
    if (!set) this.listeners.set(id, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(id);
    };
  }

  private emit(id: string, event: JobEvent): void {
    for (const listener of this.listeners.get(id) ?? []) listener(event);
  }

  /** Jobs running now (for readiness and shutdown). */
  get running(): number {
    return this.controllers.size;
  }

  /**
   * Stops taking jobs; waits up to `graceMs` for running ones to finish, then stops them and puts
   * them back in the queue (their input is kept), so the next start runs them again.
   */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    this.wake?.();
    const all = () => Promise.allSettled([...this.runs.values()]);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs)));
    if ((await Promise.race([all(), grace])) === 'timeout') for (const controller of this.controllers.values()) controller.abort(SHUTDOWN);
    clearTimeout(timer);
    await all();
    await this.loop;
    // Event streams of jobs that will only go on after a restart end now, so the server can close.
    for (const id of [...this.listeners.keys()]) this.emit(id, { type: 'closing' });
  }
}
