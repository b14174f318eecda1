import { availableParallelism } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel, SHARE_ENV, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { UserInputError } from '../errors.js';
import type { HubSourceData } from '../finetune/sources.js';
import type { DatasetOptions } from '../dataset/text-dataset.js';
import type { DatasetRecord } from '../store/datasets.js';
import type { JobProgress } from '../store/jobs.js';
import type { RankingSpec } from './execute.js';
import { HttpProblem } from './problem.js';
import type { RouteSpec } from './routes.js';
import type { Outcome, ParsedBody } from './worker-tasks.js';

const here = fileURLToPath(import.meta.url);
/** The tasks beside this module: compiled JavaScript, or TypeScript run from source through tsx (development, tests). */
const TASKS = join(dirname(here), `worker-tasks${extname(here)}`);
/**
 * From source, each thread registers tsx's loader itself: on Node 20, `--import tsx` registers it
 * in the main thread only (tsx's esm entry checks isMainThread), and the thread could not read
 * TypeScript.
 */
const TASKS_EXEC_ARGV = extname(here) === '.ts' ? ['--import', `data:text/javascript,import{register}from${JSON.stringify(import.meta.resolve('tsx/esm/api'))};register();`] : [];

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
  /** Aborting it stops the thread running the job at once, even mid-way through tokenising. */
  readonly signal: AbortSignal;
  readonly onProgress: (progress: JobProgress) => void;
}

/** A refusal of the input, thrown again on this side as the error it was on the worker's. */
function unwrap<T>(answer: Outcome<T>): T {
  if ('value' in answer) return answer.value;
  if ('problem' in answer) {
    const { kind, detail, field, headers } = answer.problem;
    throw new HttpProblem(kind, detail, field, headers);
  }
  throw new UserInputError(answer.userInput.message, answer.userInput.field);
}

/**
 * The server's worker threads (piscina) and what they do for it (src/server/worker-tasks.ts): the
 * CPU work of requests, off the event loop. Bodies and uploads cross to the threads and back by
 * transfer, never by copy; a ranking's target never reaches the event loop at all.
 */
export class WorkerPool {
  private readonly pool: Piscina;

  constructor(options: WorkerPoolOptions = {}) {
    this.pool = new Piscina({
      filename: pathToFileURL(TASKS).href,
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

  private async call<T>(name: string, task: object, options: { transferList?: (ArrayBuffer | MessagePort)[]; signal?: AbortSignal } = {}): Promise<T> {
    return unwrap((await this.pool.run(task, { name, ...options })) as Outcome<T>);
  }

  /** A request body, parsed and validated with its route's schema (a 4xx problem when it fails); `bytes` is transferred. */
  async parseBody(route: RouteSpec<any, any, any, any>, type: 'json' | 'multipart', bytes: ArrayBuffer, contentType: string): Promise<unknown> {
    const { value, files } = await this.call<ParsedBody>('parseBody', { operationId: route.operationId, type, bytes, contentType }, { transferList: [bytes] });
    for (const [key, file] of Object.entries(files)) (value as Record<string, unknown>)[key] = new File([new Uint8Array(file.bytes)], file.name, { type: file.type });
    return value;
  }

  /** A JSON ranking request validated and checked (see `checkInlineTarget`): its spec, and its bytes back; `bytes` is transferred. */
  checkInlineTarget(bytes: ArrayBuffer, inlineRows: number, dataDir: string): Promise<{ spec: RankingSpec; bytes: ArrayBuffer }> {
    return this.call('checkInlineTarget', { bytes, inlineRows, dataDir }, { transferList: [bytes] });
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

  /** Runs a ranking job on a thread; its progress comes back as it goes. */
  async rank(spec: RankingSpec, options: RankOptions): Promise<{ runId: number; scored: number }> {
    const { port1, port2 } = new MessageChannel();
    port1.on('message', options.onProgress);
    try {
      const { dataDir, modelsDir, inputDir } = options;
      return await this.call('rank', { spec, dataDir, modelsDir, inputDir, progress: port2 }, { transferList: [port2], signal: options.signal });
    } finally {
      port1.close();
    }
  }

  /** Stops the threads; tasks still running are abandoned (their jobs have been stopped first). */
  close(): Promise<void> {
    return this.pool.destroy();
  }
}
