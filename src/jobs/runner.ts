import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Registry } from '../store/database.js';
import {
  createJob,
  findJob,
  finishJob,
  getJob,
  isFinished,
  type JobKind,
  type JobProgress,
  type JobState,
  type JobSuccess,
  queuedJobIds,
  requeueInterrupted,
  requeueJob,
  type StoredJob,
  saveProgress,
  startJob,
} from '../store/jobs.js';
import { JobConflictError, JobNotFoundError, JobTimeLimitError, QueueFullError, RunnerClosingError } from './errors.js';

/** What every job looks like in the API; its kind adds its own fields (a ranking's result). */
export interface JobView {
  readonly id: string;
  readonly status: JobState;
  readonly progress: JobProgress;
  readonly restarts: number;
  readonly created_at: string;
  readonly started_at: string | null;
  readonly finished_at: string | null;
  /** A failed job's error, as `JobRunnerOptions.failure` recorded it. */
  readonly error?: Record<string, unknown>;
  readonly [detail: string]: unknown;
}

/**
 * What a job's subscribers hear: progress while it runs (only the newest matters), events of its
 * kind (a fine-tune's epochs, each one kept), then its end.
 */
export type JobEvent =
  | { readonly type: 'progress'; readonly progress: JobProgress }
  | { readonly type: 'event'; readonly name: string; readonly data: unknown }
  | { readonly type: 'end'; readonly job: JobView }
  | { readonly type: 'closing' };

/** What a running job gets from the runner. */
export interface JobRun {
  readonly job: StoredJob;
  /** Where its input waits (removed when it ends). */
  readonly inputDir: string;
  /** Aborted when it is cancelled or the server shuts down; the run then rejects. */
  readonly signal: AbortSignal;
  /** Reports progress: to subscribers at once, to the job's row at most once a second. */
  progress(progress: JobProgress): void;
  /** Sends an event of the job's kind to subscribers. */
  event(name: string, data: unknown): void;
}

/** One kind of job: how it runs, and what the API shows of it beyond the common fields. */
export interface JobType {
  readonly kind: JobKind;
  /** Names a job of this kind in messages: "ranking job". */
  readonly noun: string;
  /** The stage a running job reports before its first progress. */
  readonly firstStage: string;
  run(run: JobRun): Promise<JobSuccess>;
  /** The kind's own fields of the view (its result, once it succeeded). */
  details(job: StoredJob): Record<string, unknown>;
  /** Called once a job has ended, in whatever state, to remove what only it needed. */
  ended?(job: StoredJob): Promise<void>;
}

/** Where jobs keep their input until they end, relative to the data dir. */
export const JOBS_DIR = 'jobs';

/** How often a running job's progress is written to its row (events carry every update). */
const PROGRESS_SAVE_MS = 1000;

/** Abort reasons: a user's cancel ends the job; a shutdown puts it back in the queue; a job past its time limit fails. */
const CANCELLED = 'cancelled';
const SHUTDOWN = 'shutdown';
const TIMED_OUT = 'timed-out';

/** setTimeout's longest delay (2³¹ − 1 ms, 24.8 days; a longer one fires at once): a longer time limit is this. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Retry-After of a full queue when the running job has no ETA yet. */
const DEFAULT_RETRY_AFTER_S = 60;

/** Retry-After of a job refused while the runner shuts down (a restart takes seconds). */
const CLOSING_RETRY_AFTER_S = 5;

/** A duration for messages: minutes, or seconds below one. */
function formatDuration(ms: number): string {
  return ms >= 60_000 ? `${+(ms / 60_000).toFixed(1)} min` : `${+(ms / 1000).toFixed(1)} s`;
}

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

/** One queue of one kind, worked through one job at a time. */
interface Lane {
  readonly queue: string[];
  /** Places taken by jobs being stored, not queued yet. */
  reserved: number;
  /** The job of the queue running now. */
  running: string | undefined;
  wake: (() => void) | undefined;
  loop: Promise<void> | undefined;
}

/** The bounds on the jobs of one kind; `settings` name the variables that set them, for messages. */
export interface KindBounds {
  /** Jobs that may wait in the queue (running ones and synchronous ones do not count). */
  readonly queued: number;
  /** Longest one start of a job may run. */
  readonly runMs: number;
  readonly settings: { readonly queued: string; readonly runMs: string };
}

export interface JobRunnerOptions {
  readonly registry: Registry;
  readonly types: readonly JobType[];
  /** Synchronous jobs run one at a time; this many more may wait for their turn. */
  readonly syncWaiting: number;
  readonly bounds: Readonly<Record<JobKind, KindBounds>>;
  /**
   * What a failed job records of its error (its view's `error`), and whether the failure is the
   * service's own (logged with its stack) rather than the input's. The HTTP service records
   * problem documents; a `JobTimeLimitError` comes here too.
   */
  readonly failure: (error: unknown, kind: JobKind) => { readonly record: Record<string, unknown>; readonly internal: boolean };
  /** Where internal errors of jobs are reported (never the user's input errors). */
  readonly log: (line: string) => void;
}

/**
 * The jobs of the service, of every kind, persisted in the registry. Each kind has its own queue,
 * worked through one job at a time, so a long fine-tune never holds up a queued ranking; a small
 * synchronous ranking runs at once, in its caller's time, one at a time. Each job's progress goes
 * to its subscribers (SSE) and, throttled, to its row. At start-up, queued jobs are taken up again
 * and jobs a stopped process left running are queued again; a shutdown waits for running jobs for
 * a grace period, then puts them back in the queue with their input, to be run again by the next
 * start (a fine-tune then resumes from its last checkpoint). Each kind's queue holds a bounded
 * number of jobs (a job past that is refused before its input is stored), and a job that runs
 * past its kind's time limit is stopped and fails.
 */
export class JobRunner {
  private readonly types: ReadonlyMap<JobKind, JobType>;
  private readonly lanes = new Map<JobKind, Lane>();
  private readonly controllers = new Map<string, AbortController>();
  private readonly runs = new Map<string, Promise<void>>();
  private readonly live = new Map<string, JobProgress>();
  private readonly listeners = new Map<string, Set<(event: JobEvent) => void>>();
  private readonly sync: Limiter;
  private closing = false;

  constructor(private readonly options: JobRunnerOptions) {
    this.types = new Map(options.types.map((t) => [t.kind, t]));
    this.sync = new Limiter(1, options.syncWaiting);
    for (const kind of this.types.keys()) this.lanes.set(kind, { queue: [], reserved: 0, running: undefined, wake: undefined, loop: undefined });
  }

  private get registry(): Registry {
    return this.options.registry;
  }

  private type(kind: JobKind): JobType {
    const type = this.types.get(kind);
    if (!type) throw new Error(`no job type handles ${kind} jobs`);
    return type;
  }

  inputDir(id: string): string {
    return this.registry.resolve(join(JOBS_DIR, id));
  }

  /** Takes up the queued jobs and those a stopped process left running (returned), and starts the queues. */
  start(): string[] {
    const requeued = requeueInterrupted(this.registry);
    for (const [kind, lane] of this.lanes) {
      lane.queue.push(...queuedJobIds(this.registry, kind));
      lane.loop = this.runQueue(lane);
    }
    return requeued;
  }

  get accepting(): boolean {
    return !this.closing;
  }

  /** Stores a job's input (`writeInput` fills its directory) and its row, queued but not yet scheduled. */
  async create(kind: JobKind, request: object, writeInput: (dir: string) => Promise<void>): Promise<StoredJob> {
    if (this.closing) throw new RunnerClosingError('the server is shutting down; try again shortly', CLOSING_RETRY_AFTER_S);
    this.type(kind);
    const id = randomUUID();
    const dir = this.inputDir(id);
    await mkdir(dir, { recursive: true });
    try {
      await writeInput(dir);
      return createJob(this.registry, id, kind, { ...request });
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /**
   * Refuses a job of `kind` when its queue is full (QueueFullError), to be tried again after the
   * running job's ETA when it has one. Called before a request's body is read, and again when the job is stored.
   */
  checkRoom(kind: JobKind): void {
    const lane = this.lanes.get(kind)!;
    const { queued, settings } = this.options.bounds[kind];
    if (lane.queue.length + lane.reserved < queued) return;
    const eta = lane.running === undefined ? null : (this.live.get(lane.running)?.eta_seconds ?? null);
    const retryAfter = Math.min(Math.max(eta ?? DEFAULT_RETRY_AFTER_S, 1), 3600);
    throw new QueueFullError(`the ${this.type(kind).noun} queue is full (${queued} waiting, ${settings.queued}); try again in ${retryAfter} s`, retryAfter);
  }

  /** Stores a job (as `create`) and puts it at the end of its kind's queue, if the queue has room. */
  async submit(kind: JobKind, request: object, writeInput: (dir: string) => Promise<void>): Promise<StoredJob> {
    this.checkRoom(kind);
    const lane = this.lanes.get(kind)!;
    lane.reserved++;
    try {
      const job = await this.create(kind, request, writeInput);
      lane.queue.push(job.id);
      lane.wake?.();
      return job;
    } finally {
      lane.reserved--;
    }
  }

  /** Whether a synchronous run can be taken now without too long a wait. */
  get canRunNow(): boolean {
    return !this.closing && this.sync.hasRoom;
  }

  /** Runs a created job in the caller's time (a synchronous request), after the synchronous ones before it. */
  async runNow(id: string): Promise<void> {
    await this.sync.run(() => this.track(id));
  }

  private async runQueue(lane: Lane): Promise<void> {
    while (!this.closing) {
      const id = lane.queue.shift();
      if (id === undefined) {
        await new Promise<void>((resolve) => (lane.wake = resolve));
        lane.wake = undefined;
        continue;
      }
      lane.running = id;
      await this.track(id);
      lane.running = undefined;
    }
  }

  private track(id: string): Promise<void> {
    const run = this.run(id).finally(() => this.runs.delete(id));
    this.runs.set(id, run);
    return run;
  }

  private async run(id: string): Promise<void> {
    if (this.closing || !startJob(this.registry, id)) return;
    const job = getJob(this.registry, id);
    const type = this.type(job.kind);
    const controller = new AbortController();
    this.controllers.set(id, controller);
    const { runMs, settings } = this.options.bounds[job.kind];
    const timer = setTimeout(() => controller.abort(TIMED_OUT), Math.min(runMs, MAX_TIMER_MS));
    let saved = 0;
    try {
      const success = await type.run({
        job,
        inputDir: this.inputDir(id),
        signal: controller.signal,
        progress: (progress) => {
          const last = this.live.get(id);
          if (last && last.stage === progress.stage && last.fraction === progress.fraction) return;
          this.live.set(id, progress);
          this.emit(id, { type: 'progress', progress });
          if (performance.now() - saved >= PROGRESS_SAVE_MS) {
            saved = performance.now();
            saveProgress(this.registry, id, progress);
          }
        },
        event: (name, data) => this.emit(id, { type: 'event', name, data }),
      });
      finishJob(this.registry, id, { state: 'succeeded', ...success });
    } catch (error) {
      if (controller.signal.reason === SHUTDOWN) {
        requeueJob(this.registry, id);
        return;
      }
      if (controller.signal.reason === CANCELLED) finishJob(this.registry, id, { state: 'cancelled' });
      else {
        const cause =
          controller.signal.reason === TIMED_OUT
            ? new JobTimeLimitError(`the ${type.noun} ran past the server's limit of ${formatDuration(runMs)} (${settings.runMs}) and was stopped`)
            : error;
        const { record, internal } = this.options.failure(cause, job.kind);
        if (internal) this.options.log(`${type.noun} ${id} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        finishJob(this.registry, id, { state: 'failed', error: record });
      }
    } finally {
      clearTimeout(timer);
      this.controllers.delete(id);
      this.live.delete(id);
    }
    await this.ended(id);
  }

  /** A job has ended: its input goes, its kind cleans up, and its subscribers hear it. */
  private async ended(id: string): Promise<void> {
    await rm(this.inputDir(id), { recursive: true, force: true });
    const job = getJob(this.registry, id);
    await this.type(job.kind).ended?.(job);
    this.emit(id, { type: 'end', job: this.view(job) });
  }

  /** Cancels a queued or running job; a job that has ended is a conflict. */
  async cancel(id: string, kind: JobKind): Promise<JobView> {
    const job = this.get(id, kind);
    if (isFinished(job.state))
      throw new JobConflictError(`id: ${this.type(kind).noun} ${id} has already ${job.state === 'cancelled' ? 'been cancelled' : job.state}`, 'id');
    const controller = this.controllers.get(id);
    if (controller) {
      controller.abort(CANCELLED);
      await this.runs.get(id);
    } else if (finishJob(this.registry, id, { state: 'cancelled' })) {
      const { queue } = this.lanes.get(kind)!;
      const queued = queue.indexOf(id);
      if (queued >= 0) queue.splice(queued, 1);
      await this.ended(id);
    } else {
      // It started between the two looks: cancel the run.
      this.controllers.get(id)?.abort(CANCELLED);
      await this.runs.get(id);
    }
    return this.view(getJob(this.registry, id));
  }

  /** A job of a kind by id (JobNotFoundError when there is none). */
  get(id: string, kind: JobKind): StoredJob {
    const job = findJob(this.registry, id);
    if (!job || job.kind !== kind) throw new JobNotFoundError(`id: there is no ${this.type(kind).noun} ${id}`, 'id');
    return job;
  }

  /** A job as the API shows it: live progress while it runs, its kind's fields (the result once it succeeded). */
  view(job: StoredJob): JobView {
    const type = this.type(job.kind);
    const progress: JobProgress =
      job.state === 'succeeded'
        ? { fraction: 1, stage: 'done', eta_seconds: 0 }
        : job.state === 'queued'
          ? { fraction: 0, stage: 'queued', eta_seconds: null }
          : isFinished(job.state)
            ? { fraction: job.progress?.fraction ?? 0, stage: 'done', eta_seconds: 0 }
            : (this.live.get(job.id) ?? job.progress ?? { fraction: 0, stage: type.firstStage, eta_seconds: null });
    return {
      id: job.id,
      status: job.state,
      progress,
      restarts: job.restarts,
      created_at: job.created_at,
      started_at: job.started_at,
      finished_at: job.finished_at,
      ...type.details(job),
      ...(job.error !== null && { error: job.error }),
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
    for (const lane of this.lanes.values()) lane.wake?.();
    const all = () => Promise.allSettled([...this.runs.values()]);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs)));
    if ((await Promise.race([all(), grace])) === 'timeout') for (const controller of this.controllers.values()) controller.abort(SHUTDOWN);
    clearTimeout(timer);
    await all();
    await Promise.all([...this.lanes.values()].map((lane) => lane.loop));
    // Event streams of jobs that will only go on after a restart end now, so the server can close.
    for (const id of [...this.listeners.keys()]) this.emit(id, { type: 'closing' });
  }
}
