/**
 * The HTTP service's CPU work on the worker threads (src/jobs/worker-pool.ts runs this module
 * beside the jobs' tasks): parsing and validating request bodies, so a large body never stalls
 * the event loop. Each task answers an Outcome: refusals of the input travel as data (a problem
 * document's parts, or the library's input error), since an error loses its class between
 * threads; anything else is thrown, and the server reports it as internal.
 */
import { move, transferableSymbol, valueSymbol } from 'piscina';
import type { z } from 'zod';
import { UserInputError } from '../../errors.js';
import { type RankingSpec, readHubTarget } from '../../jobs/ranking.js';
import { inlineSpec } from '../handlers/ranking-request.js';
import { HttpProblem, hubDatasetProblem, type ProblemKind, validationProblem } from './problem.js';
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
export async function checkInlineTarget(task: {
  readonly bytes: ArrayBuffer;
  readonly inlineRows: number;
  readonly dataDir: string;
}): Promise<Outcome<{ spec: RankingSpec; bytes: ArrayBuffer }>> {
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
    const read = await readHubTarget(
      { dataset, subset: subset || undefined, split: split || undefined, text_columns, label_column, num_examples, seed },
      spec.task_type,
      dataDir,
    );
    const { subset: readSubset, split: readSplit, revision } = read.hub!;
    return { ...spec, rows: read.texts.length, hub: { ...spec.hub!, subset: readSubset, split: readSplit, revision } };
  } catch (error) {
    throw hubDatasetProblem(error, 'dataset');
  }
}
