import { availableParallelism } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel, type MessagePort, SHARE_ENV } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { DatasetOptions } from '../dataset/text-dataset.js';
import { UserInputError } from '../errors.js';
import type { HubSourceData } from '../registry/sources.js';
import type { DatasetRecord } from '../store/datasets.js';
import type { JobProgress } from '../store/jobs.js';
import type { RankingSpec } from './ranking.js';
import type { Outcome } from './worker-tasks.js';

const here = fileURLToPath(import.meta.url);
/**
 * A module of tasks beside `module` (an `import.meta.url`): compiled JavaScript, or TypeScript run
 * from source through tsx (development, tests), as `module` itself is.
 */
export function tasksModule(module: string, name: string): string {
  const path = fileURLToPath(module);
  return pathToFileURL(join(dirname(path), `${name}${extname(path)}`)).href;
}

/** The jobs' tasks. */
const TASKS = tasksModule(import.meta.url, 'worker-tasks');
/**
 * From source, each thread registers tsx's loader itself: on Node 20, `--import tsx` registers it
 * in the main thread only (tsx's esm entry checks isMainThread), and the thread could not read
 * TypeScript.
 */
const TASKS_EXEC_ARGV =
  extname(here) === '.ts' ? ['--import', `data:text/javascript,import{register}from${JSON.stringify(import.meta.resolve('tsx/esm/api'))};register();`] : [];

/**
 * The threads run at this niceness (Linux keeps it per thread; ONNX Runtime's threads, started from
 * them, inherit it): the event loop (0) comes first, so a ranking's tokenising never delays an
 * answer; fine-tunes (FINETUNE_NICENESS, 10) come last, so a ranking still gets the larger share.
 */
export const WORKER_NICENESS = 5;

/**
 * How long an idle thread is kept: starting one loads transformers.js, ONNX Runtime and the
 * schemas (about a second), which a steady flow of requests should pay once.
 */
const IDLE_TIMEOUT_MS = 5 * 60_000;

/** How long `close` waits for the threads' tasks before it abandons them. */
const CLOSE_GRACE_MS = 30_000;

export interface WorkerPoolOptions {
  /**
   * Most threads at once. Default: the cores, and at least three: rankings run two at a time
   * (one synchronous, one queued job) and request bodies should not wait behind them.
   */
  readonly threads?: number;
}

export interface RankOptions {
  readonly dataDir: string;
  readonly modelsDir: string;
  readonly inputDir: string;
  /** Aborting it stops the job within one batch of texts or ESMs. */
  readonly signal: AbortSignal;
  readonly onProgress: (progress: JobProgress) => void;
}

/** A refusal of the input, thrown again on this side as the error it was on the worker's. */
function unwrap<T>(answer: Outcome<T>): T {
  if ('value' in answer) return answer.value;
  throw new UserInputError(answer.userInput.message, answer.userInput.field);
}

export interface TaskOptions {
  readonly transferList?: (ArrayBuffer | MessagePort)[];
  readonly signal?: AbortSignal;
}

/**
 * The worker threads (piscina) and what they do for the jobs (src/jobs/worker-tasks.ts): the CPU
 * work of jobs and of reading their input, off the event loop; a caller may run its own module of
 * tasks on them too (the HTTP service parses bodies there). Data crosses to the threads and back
 * by transfer, never by copy; a ranking's target never reaches the event loop at all.
 */
export class WorkerPool {
  private readonly pool: Piscina;

  constructor(options: WorkerPoolOptions = {}) {
    this.pool = new Piscina({
      filename: TASKS,
      execArgv: TASKS_EXEC_ARGV,
      minThreads: 0,
      maxThreads: options.threads ?? Math.max(3, availableParallelism()),
      idleTimeout: IDLE_TIMEOUT_MS,
      niceIncrement: WORKER_NICENESS,
      // The threads see the process's environment as it is now, not a copy from their start: the
      // library reads HF_HUB_OFFLINE, HF_TOKEN and the limits when it acts, on whichever thread.
      env: SHARE_ENV,
    });
  }

  /** Runs task `name` of the tasks module `filename` (a file URL, see `tasksModule`) on a thread; its answer as it came. */
  run(filename: string, name: string, task: object, options: TaskOptions = {}): Promise<unknown> {
    return this.pool.run(task, { filename, name, ...options });
  }

  private async call<T>(name: string, task: object, options: TaskOptions = {}): Promise<T> {
    return unwrap((await this.run(TASKS, name, task, options)) as Outcome<T>);
  }

  /** A published ESM's source task read from its Hub dataset (into the data dir's cache): the commit read and its examples. */
  readHubSourceTask(source: HubSourceData, dataDir: string): Promise<{ subset: string; split: string; revision: string; rows: number }> {
    return this.call('readHubSourceTask', { source, dataDir });
  }

  /** The examples of a dataset file, read as `readTextDataset` reads it (its problems thrown as UserInputError). */
  countRows(path: string, options: DatasetOptions): Promise<number> {
    return this.call('countRows', { path, options });
  }

  /** A registered dataset's task id and examples, read as a fine-tune reads it. */
  countRegisteredTask(dataset: DatasetRecord, dataDir: string): Promise<{ id: string; rows: number }> {
    return this.call('countRegisteredTask', { dataset, dataDir });
  }

  /**
   * Runs a ranking job on a thread; its progress comes back as it goes. Aborting asks the job to
   * stop and waits until it has: the thread is never terminated, because a thread stopped inside a
   * native call (ONNX Runtime's inference, the ESM-LogME addon) aborts the whole process when that
   * call comes back to a JavaScript that is gone (node-addon-api rethrows an error it can no
   * longer throw: `terminate called after throwing an instance of 'Napi::Error'`). The job checks
   * its signal between batches of texts and of ESMs, so it stops within one batch.
   */
  async rank(spec: RankingSpec, options: RankOptions): Promise<{ runId: number; scored: number }> {
    const { port1, port2 } = new MessageChannel();
    port1.on('message', options.onProgress);
    const stop = () => port1.postMessage('stop');
    options.signal.addEventListener('abort', stop, { once: true });
    try {
      options.signal.throwIfAborted();
      const { dataDir, modelsDir, inputDir } = options;
      return await this.call('rank', { spec, dataDir, modelsDir, inputDir, progress: port2 }, { transferList: [port2] });
    } finally {
      options.signal.removeEventListener('abort', stop);
      port1.close();
    }
  }

  /**
   * Stops the threads once their tasks are done (the jobs among them have been stopped first):
   * terminating a thread mid-task could end the process (see `rank`). A task still running after
   * `graceMs` (a request's file read, say) is abandoned with its thread.
   */
  async close(graceMs = CLOSE_GRACE_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
    const closed = this.pool.close();
    if ((await Promise.race([closed, late])) === 'late') await this.pool.destroy();
    clearTimeout(timer);
  }
}
