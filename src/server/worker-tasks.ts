/**
 * The CPU work of requests, run on the server's worker threads (src/server/worker-pool.ts) so that
 * the event loop only moves bytes: parsing and validating request bodies, reading uploaded
 * datasets, and ranking jobs (reading the target, tokenising, embedding, scoring). Writing files
 * stays with the event loop (asynchronous, and a thread waiting on a disk is a thread lost to the
 * pool), except what a ranking job records. A 10 MB text
 * takes seconds to tokenise; here it takes them from one thread of the pool, not from every
 * caller of the server.
 *
 * Each task answers an Outcome: refusals of the input travel as data, since an error loses its
 * class between threads; anything else is thrown, and the server reports it as internal.
 */
import type { MessagePort } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import type { z } from 'zod';
import { UserInputError } from '../errors.js';
import { readHubSourceTask as readPublishedTask, readRegisteredTask, type HubSourceData } from '../finetune/sources.js';
import { readTextDataset, type DatasetOptions } from '../dataset/text-dataset.js';
import { openRegistry, type Registry } from '../store/database.js';
import type { DatasetRecord } from '../store/datasets.js';
import { executeRanking, readHubTarget, type RankingSpec } from './execute.js';
import { HttpProblem, hubProblem, validationProblem, type ProblemKind } from './problem.js';
import { inlineSpec } from './ranking-request.js';
import { ROUTES } from './routes.js';
import { RankingRequest } from './schemas.js';

/** A refusal of the request's input, as it crosses threads: our problem, or the library's input error. */
export type Refusal =
  | { readonly problem: { readonly kind: ProblemKind; readonly detail: string; readonly field?: string; readonly headers: Record<string, string> } }
  | { readonly userInput: { readonly message: string; readonly field?: string } };

export type Outcome<T> = { readonly value: T } | Refusal;

async function outcome<T>(work: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { value: await work() };
  } catch (error) {
    if (error instanceof HttpProblem) return { problem: { kind: error.kind, detail: error.detail, field: error.field, headers: error.headers } };
    if (error instanceof UserInputError) return { userInput: { message: error.message, field: error.field } };
    throw error;
  }
}

/** An uploaded file as it crosses threads: its bytes are transferred, not copied. */
export interface FilePart {
  readonly name: string;
  readonly type: string;
  readonly bytes: ArrayBuffer;
}

/** A validated body: the value, with its files (top-level fields only, as the schemas have them) apart. */
export interface ParsedBody {
  readonly value: unknown;
  readonly files: Record<string, FilePart>;
}

export interface BodyTask {
  /** The route whose schema validates the body. */
  readonly operationId: string;
  readonly type: 'json' | 'multipart';
  readonly bytes: ArrayBuffer;
  readonly contentType: string;
}

function parseJson(bytes: ArrayBuffer): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new HttpProblem('bad-request', 'body: not valid JSON (NaN and Infinity are not JSON either)', 'body');
  }
}

/** A multipart form as Hono's `parseBody({ all: true })` gives it: a repeated field becomes an array. */
async function parseForm(bytes: ArrayBuffer, contentType: string): Promise<Record<string, unknown>> {
  let data: FormData;
  try {
    data = await new Response(bytes, { headers: { 'content-type': contentType } }).formData();
  } catch {
    throw new HttpProblem('bad-request', 'body: the multipart form cannot be read (truncated, or a wrong boundary?)', 'body');
  }
  const form: Record<string, unknown> = Object.create(null);
  for (const key of new Set(data.keys())) {
    const values = data.getAll(key);
    form[key] = values.length === 1 ? values[0] : values;
  }
  return form;
}

function validate(schema: z.ZodType, value: unknown): unknown {
  const result = schema.safeParse(value);
  if (!result.success) throw validationProblem(result.error, 'body');
  return result.data;
}

/** Parses a request body and validates it with its route's schema; uploaded files come back transferred. */
export async function parseBody(task: BodyTask): Promise<Outcome<ParsedBody>> {
  const answer = await outcome(async () => {
    const route = ROUTES.find((r) => r.operationId === task.operationId);
    const schema = task.type === 'json' ? route?.json : route?.multipart;
    if (!schema) throw new Error(`route ${task.operationId} takes no ${task.type} body`);
    if (task.type === 'json') return { value: validate(schema, parseJson(task.bytes)), files: {} };
    const value = validate(schema, await parseForm(task.bytes, task.contentType)) as Record<string, unknown>;
    const files: Record<string, FilePart> = {};
    for (const [key, field] of Object.entries(value)) {
      if (!(field instanceof File)) continue;
      files[key] = { name: field.name, type: field.type, bytes: await field.arrayBuffer() };
      delete value[key];
    }
    return { value, files };
  });
  if (!('value' in answer)) return answer;
  const buffers = Object.values(answer.value.files).map((file) => file.bytes);
  return move({ [transferableSymbol]: buffers, [valueSymbol]: answer }) as unknown as Outcome<ParsedBody>;
}

/**
 * A JSON ranking request (an inline target: texts or embeddings with their labels), validated and
 * checked; answers the job's spec and the bytes, transferred back to be stored as they came:
 * nothing is serialised again, and the event loop never parses them.
 */
export async function checkInlineTarget(task: { readonly bytes: ArrayBuffer; readonly inlineRows: number; readonly dataDir: string }): Promise<Outcome<{ spec: RankingSpec; bytes: ArrayBuffer }>> {
  const answer = await outcome(async () => {
    const spec = inlineSpec(validate(RankingRequest, parseJson(task.bytes)) as z.infer<typeof RankingRequest>, task.inlineRows);
    return { spec: spec.input === 'hub' ? await readHubTargetSpec(spec, task.dataDir) : spec, bytes: task.bytes };
  });
  if (!('value' in answer)) return answer;
  return move({ [transferableSymbol]: [answer.value.bytes], [valueSymbol]: answer }) as unknown as Outcome<{ spec: RankingSpec; bytes: ArrayBuffer }>;
}

/**
 * A Hub dataset target, read now (downloaded into the data dir's cache) so an unknown dataset,
 * subset, split or column is answered at once; the spec then pins the commit the job reads again.
 */
async function readHubTargetSpec(spec: RankingSpec, dataDir: string): Promise<RankingSpec> {
  const { dataset, subset, split, text_columns, label_column, num_examples, seed } = spec.hub!;
  try {
    const read = await readHubTarget({ dataset, subset: subset || undefined, split: split || undefined, text_columns, label_column, num_examples, seed }, spec.task_type, dataDir);
    const { subset: readSubset, split: readSplit, revision } = read.hub!;
    return { ...spec, rows: read.texts.length, hub: { ...spec.hub!, subset: readSubset, split: readSplit, revision } };
  } catch (error) {
    throw hubProblem(error, 'dataset');
  }
}

/** A published ESM's source task, read from its Hub dataset as a fine-tune would: the commit read and the examples. */
export async function readHubSourceTask(task: { readonly source: HubSourceData; readonly dataDir: string }): Promise<Outcome<{ subset: string; split: string; revision: string; rows: number }>> {
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
  /** Where progress goes, as JobProgress messages. */
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
 * Cancelling it stops the thread (the pool aborts the task), so it needs no signal of its own.
 */
export async function rank(task: RankTask): Promise<Outcome<{ runId: number; scored: number }>> {
  try {
    return await outcome(async () => {
      let scored = 0;
      const { runId } = await executeRanking(task.spec, {
        registry: registryAt(task.dataDir),
        modelsDir: task.modelsDir,
        inputDir: task.inputDir,
        signal: new AbortController().signal,
        onScored: (count) => (scored = count),
        onProgress: (progress) => task.progress.postMessage(progress),
      });
      return { runId, scored };
    });
  } finally {
    task.progress.close();
  }
}
