import type { z } from 'zod';
import * as s from './schemas.js';

export const JSON_MEDIA_TYPE = 'application/json';
export const MULTIPART_MEDIA_TYPE = 'multipart/form-data';

export interface ResponseSpec {
  readonly description: string;
  /** Media type → schema of the body. */
  readonly content?: Readonly<Record<string, z.ZodType>>;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * One operation of the HTTP service: the app serves exactly these (src/server/app.ts registers a
 * handler for each and nothing else) and openapi.yaml documents exactly these.
 */
export interface RouteSpec<P = unknown, Q = unknown, J = unknown, M = unknown> {
  readonly method: 'get' | 'post' | 'delete';
  /** OpenAPI's form: `/v1/rankings/{id}`. */
  readonly path: string;
  readonly operationId: string;
  readonly tag: string;
  readonly summary: string;
  readonly description?: string;
  /** Served without the bearer token even when one is configured: the probes, and the docs (nothing in them is secret). */
  readonly open?: boolean;
  readonly params?: z.ZodType<P, unknown>;
  readonly query?: z.ZodType<Q, unknown>;
  /** Accepted request bodies, by media type. */
  readonly json?: z.ZodType<J, unknown>;
  readonly multipart?: z.ZodType<M, unknown>;
  readonly responses: Readonly<Record<number, ResponseSpec>>;
}

function route<P = undefined, Q = undefined, J = never, M = never>(spec: RouteSpec<P, Q, J, M>): RouteSpec<P, Q, J, M> {
  return spec;
}

const problem = { 'application/problem+json': s.Problem };
const json = (schema: z.ZodType) => ({ [JSON_MEDIA_TYPE]: schema });

export const postRanking = route({
  method: 'post',
  path: '/v1/rankings',
  operationId: 'createRanking',
  tag: 'rankings',
  summary: 'Rank the source tasks of the registry for a target dataset',
  description: [
    'The target comes inline as texts + labels (embedded with `model`, through the embedding cache), as precomputed embeddings + labels,',
    'or as an uploaded dataset file (multipart). The pool is every registered ESM that matches the filters.',
    'A small request (at most the server\'s synchronous row limit, default 512 rows, and ESM limit, default 2000) answers 200 with the finished job;',
    'a larger one, or one sent with `?async=true` or `Prefer: respond-async`, answers 202 with the queued job and its Location.',
  ].join(' '),
  query: s.RankingsQuery,
  json: s.RankingRequest,
  multipart: s.RankingUpload,
  responses: {
    200: { description: 'ranked synchronously: the finished job with its result', content: json(s.RankingJob) },
    202: { description: 'queued: follow Location, or its events', content: json(s.RankingJob), headers: { Location: 'the job: /v1/rankings/{id}' } },
  },
});

export const getRanking = route({
  method: 'get',
  path: '/v1/rankings/{id}',
  operationId: 'getRanking',
  tag: 'rankings',
  summary: 'A ranking job: status, progress and, once it succeeded, the ranking',
  params: s.JobId,
  responses: { 200: { description: 'the job', content: json(s.RankingJob) } },
});

export const rankingEvents = route({
  method: 'get',
  path: '/v1/rankings/{id}/events',
  operationId: 'streamRankingEvents',
  tag: 'rankings',
  summary: "A job's progress as Server-Sent Events",
  description:
    'Events: `progress` (data: JobProgress) while it runs, then one `succeeded`, `failed` or `cancelled` (data: RankingJob) and the stream ends. The first event is the current state (`progress`, or the final event of a job that has ended).',
  params: s.JobId,
  responses: { 200: { description: 'the event stream', content: { 'text/event-stream': s.Text } } },
});

export const deleteRanking = route({
  method: 'delete',
  path: '/v1/rankings/{id}',
  operationId: 'cancelRanking',
  tag: 'rankings',
  summary: 'Cancel a queued or running job',
  params: s.JobId,
  responses: { 200: { description: 'the cancelled job', content: json(s.RankingJob) }, 409: { description: 'the job has already ended', content: problem } },
});

export const listSources = route({
  method: 'get',
  path: '/v1/sources',
  operationId: 'listSources',
  tag: 'sources',
  summary: 'The registered source tasks (ESMs), filtered and paged',
  query: s.SourcesQuery,
  responses: { 200: { description: 'one page, in id order', content: json(s.SourceList) } },
});

export const postSource = route({
  method: 'post',
  path: '/v1/sources',
  operationId: 'createSources',
  tag: 'sources',
  summary: 'Import hfselect ESM folders from the import directory, or upload one ESM',
  description:
    'JSON: import every ESM folder under `path`, relative to `<data dir>/imports/` (rerunning skips what is registered). Multipart: one ESM as `config` (config.json) and `weights` (model.safetensors).',
  json: s.ImportRequest,
  multipart: s.SourceUpload,
  responses: {
    200: { description: 'imported folders, or an uploaded ESM that was already registered', content: json(s.ImportSummary.or(s.UploadedSource)) },
    201: { description: 'the uploaded ESM, registered', content: json(s.UploadedSource), headers: { Location: 'the source: /v1/sources/{id}' } },
  },
});

export const getSource = route({
  method: 'get',
  path: '/v1/sources/{id}',
  operationId: 'getSource',
  tag: 'sources',
  summary: 'One registered ESM: its config, checksum and training report',
  params: s.SourceId,
  responses: { 200: { description: 'the ESM', content: json(s.Source) } },
});

export const deleteSource = route({
  method: 'delete',
  path: '/v1/sources/{id}',
  operationId: 'deleteSource',
  tag: 'sources',
  summary: 'Delete a registered ESM (row and weights file)',
  params: s.SourceId,
  responses: { 200: { description: 'the deleted ESM', content: json(s.Source) } },
});

export const listModels = route({
  method: 'get',
  path: '/v1/models',
  operationId: 'listModels',
  tag: 'models',
  summary: 'The base models available locally (folders under the models directory)',
  responses: { 200: { description: 'the models', content: json(s.ModelList) } },
});

export const healthz = route({
  method: 'get',
  path: '/healthz',
  operationId: 'health',
  tag: 'operations',
  summary: 'Liveness: the process answers',
  open: true,
  responses: { 200: { description: 'alive', content: json(s.Health) } },
});

export const readyz = route({
  method: 'get',
  path: '/readyz',
  operationId: 'readiness',
  tag: 'operations',
  summary: 'Readiness: the registry answers and jobs are accepted',
  open: true,
  responses: { 200: { description: 'ready', content: json(s.Readiness) }, 503: { description: 'not ready (shutting down, or the registry fails)', content: problem } },
});

export const metrics = route({
  method: 'get',
  path: '/metrics',
  operationId: 'metrics',
  tag: 'operations',
  summary: 'Prometheus metrics: requests and latencies by route and status, jobs by state, ESMs scored',
  responses: { 200: { description: 'Prometheus text exposition format 0.0.4', content: { 'text/plain': s.Text } } },
});

export const openapiDocument = route({
  method: 'get',
  path: '/openapi.yaml',
  operationId: 'openapi',
  open: true,
  tag: 'docs',
  summary: 'This document',
  responses: { 200: { description: 'OpenAPI 3.1', content: { 'application/yaml': s.Text } } },
});

export const docsPage = route({
  method: 'get',
  path: '/docs',
  operationId: 'docs',
  open: true,
  tag: 'docs',
  summary: 'Interactive documentation (Swagger UI, served locally, works offline)',
  responses: { 200: { description: 'an HTML page', content: { 'text/html': s.Text } } },
});

export const docsAsset = route({
  method: 'get',
  path: '/docs/{asset}',
  operationId: 'docsAsset',
  open: true,
  tag: 'docs',
  summary: "The documentation page's scripts and styles",
  params: s.DocsAsset,
  responses: { 200: { description: 'the file', content: { 'text/css': s.Text, 'text/javascript': s.Text } } },
});

/** Every route, in the order openapi.yaml lists them. */
export const ROUTES: readonly RouteSpec<any, any, any, any>[] = [
  postRanking,
  getRanking,
  rankingEvents,
  deleteRanking,
  listSources,
  postSource,
  getSource,
  deleteSource,
  listModels,
  healthz,
  readyz,
  metrics,
  openapiDocument,
  docsPage,
  docsAsset,
];

/** Hono's form of an OpenAPI path: `/v1/rankings/:id`. */
export function honoPath(path: string): string {
  return path.replace(/\{(\w+)\}/g, ':$1');
}
