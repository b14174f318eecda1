/**
 * The CPU work of jobs, run on the worker threads (src/jobs/worker-pool.ts) so that the event loop
 * only moves bytes: reading uploaded and published datasets, and ranking jobs (reading the target,
 * tokenising, embedding, scoring). Writing files stays with the event loop (asynchronous, and a
 * thread waiting on a disk is a thread lost to the pool), except what a ranking job records. A
 * 10 MB text takes seconds to tokenise; here it takes them from one thread of the pool, not from
 * every caller of the service.
 *
 * Each task answers an Outcome: refusals of the input travel as data, since an error loses its
 * class between threads; anything else is thrown, and the caller reports it as internal.
 */
import type { MessagePort } from 'node:worker_threads';
import { type DatasetOptions, readTextDataset } from '../dataset/text-dataset.js';
import { UserInputError } from '../errors.js';
import { type HubSourceData, readHubSourceTask as readPublishedTask, readRegisteredTask } from '../registry/sources.js';
import { openRegistry, type Registry } from '../store/database.js';
import type { DatasetRecord } from '../store/datasets.js';
import { executeRanking, type RankingSpec } from './ranking.js';

/** A refusal of the input, as it crosses threads: the library's input error. */
export interface Refusal {
  readonly userInput: { readonly message: string; readonly field?: string };
}

export type Outcome<T> = { readonly value: T } | Refusal;

/** A task's value, or its refusal of the input as data; anything else is thrown. */
async function outcome<T>(work: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { value: await work() };
  } catch (error) {
    if (error instanceof UserInputError) return { userInput: { message: error.message, field: error.field } };
    throw error;
  }
}

/** A published ESM's source task, read from its Hub dataset as a fine-tune would: the commit read and the examples. */
export async function readHubSourceTask(task: {
  readonly source: HubSourceData;
  readonly dataDir: string;
}): Promise<Outcome<{ subset: string; split: string; revision: string; rows: number }>> {
  return outcome(async () => {
    const { task: read, hub } = await readPublishedTask(task.source, { dataDir: task.dataDir });
    return { subset: hub.subset, split: hub.split, revision: hub.revision, rows: read.texts.length };
  });
}

export interface CountRowsTask {
  readonly path: string;
  readonly options: DatasetOptions;
}

/** Reads a dataset file as `readTextDataset` does (columns, labels, sampling checked) and counts its examples. */
export async function countRows(task: CountRowsTask): Promise<Outcome<number>> {
  return outcome(async () => {
    return (await readTextDataset(task.path, task.options)).texts.length;
  });
}

/** Reads a registered dataset as a fine-tune would: its task id and examples. */
export async function countRegisteredTask(task: { readonly dataset: DatasetRecord; readonly dataDir: string }): Promise<Outcome<{ id: string; rows: number }>> {
  return outcome(async () => {
    const read = await readRegisteredTask(task.dataset, task.dataDir);
    return { id: read.id, rows: read.texts.length };
  });
}

export interface RankTask {
  readonly spec: RankingSpec;
  readonly dataDir: string;
  readonly modelsDir: string;
  readonly inputDir: string;
  /** Where progress goes, as JobProgress messages; a message from the other side asks the job to stop. */
  readonly progress: MessagePort;
}

/** This thread's registry connection (better-sqlite3 connections stay in their thread): one data dir at a time. */
let held: Registry | undefined;

function registryAt(dataDir: string): Registry {
  if (held?.dataDir !== dataDir) {
    held?.close();
    held = openRegistry({ dataDir });
  }
  return held;
}

/**
 * Runs a ranking job (`executeRanking`) on this thread, with a registry connection of its own.
 * A message on the progress port stops it where `executeRanking` checks its signal: between
 * batches of texts and of ESMs (see `WorkerPool.rank` for why the thread is never terminated).
 */
export async function rank(task: RankTask): Promise<Outcome<{ runId: number; scored: number }>> {
  const stop = new AbortController();
  task.progress.once('message', () => stop.abort());
  try {
    return await outcome(async () => {
      let scored = 0;
      const { runId } = await executeRanking(task.spec, {
        registry: registryAt(task.dataDir),
        modelsDir: task.modelsDir,
        inputDir: task.inputDir,
        signal: stop.signal,
        onScored: (count) => (scored = count),
        onProgress: (progress) => task.progress.postMessage(progress),
      });
      return { runId, scored };
    });
  } finally {
    task.progress.close();
  }
}
