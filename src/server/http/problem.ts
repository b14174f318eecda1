import { STATUS_CODES } from 'node:http';
import { z } from 'zod';
import { UserInputError } from '../../errors.js';
import { HubOfflineError } from '../../hub/config.js';
import { HubError } from '../../hub/errors.js';
import { HubUnavailableError } from '../../hub/hub-errors.js';
import { JobConflictError, JobError, JobNotFoundError, JobTimeLimitError, JobUnavailableError } from '../../jobs/errors.js';

/** RFC 9457's media type: every error the service answers is one of these documents. */
export const PROBLEM_MEDIA_TYPE = 'application/problem+json';

/** What went wrong, by kind; `type` is `urn:esmselect:problem:<kind>`. */
export const PROBLEM_KINDS = {
  'bad-request': 400,
  unauthorized: 401,
  'not-found': 404,
  'method-not-allowed': 405,
  conflict: 409,
  'payload-too-large': 413,
  'unsupported-media-type': 415,
  'invalid-input': 422,
  /** A job ran past the server's time limit for its kind (ESMSELECT_MAX_RANKING_MINUTES, ESMSELECT_MAX_FINETUNE_MINUTES). */
  'time-limit': 422,
  'too-many-requests': 429,
  internal: 500,
  'bad-gateway': 502,
  unavailable: 503,
} as const;
export type ProblemKind = keyof typeof PROBLEM_KINDS;

/** An RFC 9457 problem document plus `field`, the request input at fault (a dotted path, e.g. `embeddings.3.7`). */
export const problemSchema = z.object({
  type: z.string().describe('urn:esmselect:problem:<kind>'),
  title: z.string(),
  status: z.int(),
  detail: z.string().optional(),
  field: z.string().optional().describe('the request input at fault: a body field, query parameter, path parameter or form field'),
});
export type Problem = z.infer<typeof problemSchema>;

/** An error that is answered as a problem document; throw it anywhere in a handler. */
export class HttpProblem extends Error {
  override readonly name = 'HttpProblem';
  readonly status: number;
  constructor(
    readonly kind: ProblemKind,
    readonly detail: string,
    readonly field?: string,
    /** Extra response headers (Allow, Retry-After, WWW-Authenticate). */
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.status = PROBLEM_KINDS[kind];
  }
}

export function problem(kind: ProblemKind, detail: string, field?: string): Problem {
  const status = PROBLEM_KINDS[kind];
  return { type: `urn:esmselect:problem:${kind}`, title: STATUS_CODES[status] ?? 'Error', status, detail, ...(field !== undefined && { field }) };
}

/**
 * The job runner's errors as problems: an unknown job is 404, a job that has ended 409, a full
 * queue or a runner shutting down 503 with Retry-After, a job past its time limit `time-limit`.
 */
function jobProblem(error: JobError): HttpProblem {
  if (error instanceof JobNotFoundError) return new HttpProblem('not-found', error.message, error.field);
  if (error instanceof JobConflictError) return new HttpProblem('conflict', error.message, error.field);
  if (error instanceof JobUnavailableError)
    return new HttpProblem('unavailable', error.message, error.field, { 'retry-after': String(error.retryAfterSeconds) });
  if (error instanceof JobTimeLimitError) return new HttpProblem('time-limit', error.message, error.field);
  return new HttpProblem('internal', error.message, error.field);
}

/**
 * The problem for an error thrown while handling a request or running a job — the one place where
 * the library's and the job runner's errors become HTTP: our own problems and the user's input
 * errors say what was wrong, the runner's errors say why a job cannot be had; anything else is an
 * internal error whose message stays in the server's log.
 */
export function problemFor(error: unknown): { problem: Problem; headers: Record<string, string> } {
  if (error instanceof JobError) error = jobProblem(error);
  if (error instanceof HttpProblem) return { problem: problem(error.kind, error.detail, error.field), headers: error.headers };
  // The library's messages start with the input they are about ("labels: …") when no field is set.
  if (error instanceof UserInputError)
    return { problem: problem('invalid-input', error.message, error.field ?? /^([\w.]+):/.exec(error.message)?.[1]), headers: {} };
  return { problem: problem('internal', 'the server failed to handle this request; its log says why'), headers: {} };
}

export function problemResponse(body: Problem, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status: body.status, headers: { 'content-type': PROBLEM_MEDIA_TYPE, ...headers } });
}

/**
 * The issue to report: the first; for input that matches no branch of a union (texts or
 * embeddings), the issue of the branch that got furthest into the input, i.e. the longest path.
 */
function reportedIssue(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue {
  const issue = issues[0];
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return issue;
  const candidates = issue.errors.map((branch) => reportedIssue(branch));
  const best = candidates.reduce((a, b) => (b.path.length > a.path.length ? b : a));
  return { ...best, path: [...issue.path, ...best.path] };
}

/** Where a request's input was: its path parameters, its query or its body (JSON or a form). */
export type InputLocation = 'params' | 'query' | 'body';

const UNKNOWN: Record<InputLocation, string> = {
  params: 'not a path parameter of this route',
  query: 'not a query parameter of this route',
  body: 'not a field of this request',
};

/**
 * The first issue of a failed zod validation as a 422 problem naming the field (a dotted path): an
 * unknown parameter or field is named itself (`?evil=1` is about `evil`, not about a body); another
 * issue of the whole input is named by `location`.
 */
export function validationProblem(error: z.ZodError, location: InputLocation): HttpProblem {
  const issue = reportedIssue(error.issues);
  if (issue.code === 'unrecognized_keys' && issue.path.length === 0) {
    const [field] = issue.keys;
    return new HttpProblem('invalid-input', `${field}: ${UNKNOWN[location]}`, field);
  }
  const field = issue.path.map(String).join('.');
  return new HttpProblem('invalid-input', `${field || location}: ${issue.message}`, field || location);
}

/**
 * A library error about a Hub dataset as a problem: 422 naming what was wrong (subset, split, a
 * column) or `field`; 409 when HF_HUB_OFFLINE forbids the download, 503 when the Hub fails.
 * Anything else is rethrown.
 */
export function hubDatasetProblem(error: unknown, field: string): HttpProblem {
  if (!(error instanceof UserInputError)) throw error;
  if (error instanceof HubOfflineError) return new HttpProblem('conflict', `${field}: ${error.message}`, field);
  if (error instanceof HubUnavailableError) return new HttpProblem('unavailable', error.message, field);
  const named = error.field && ['subset', 'split', 'text_column', 'label_column', 'num_examples'].includes(error.field) ? error.field : field;
  return new HttpProblem('invalid-input', error.message, named);
}

/**
 * A Hub failure as the service answers it: HF_HUB_OFFLINE is 503 (the server is configured not to
 * reach the Hub); a name the Hub does not know is the request's fault (422 naming the field); the
 * Hub refusing the server's token, or not answering, is 502. Anything else is returned as is.
 */
export function hubProblem(error: unknown): unknown {
  if (error instanceof HubOfflineError) return new HttpProblem('unavailable', error.message);
  if (error instanceof HubError) {
    const field = { base_model: 'base_model', repo: 'repos' }[error.field ?? ''];
    if (error.status === 404 && field) return new HttpProblem('invalid-input', `${field}: ${error.message}`, field);
    return new HttpProblem('bad-gateway', error.message);
  }
  return error;
}
