import type { z } from 'zod';
import { deletePull, getPull, HUB_ROUTES, postPull, pullEvents } from './hub-routes.js';
import { type AnyRouteSpec, JSON_MEDIA_TYPE, type RouteSpec } from './route-spec.js';
import * as s from './schemas.js';

function route<P = undefined, Q = undefined, J = never, M = never>(spec: RouteSpec<P, Q, J, M>): RouteSpec<P, Q, J, M> {
  return spec;
}

/**
 * `route` under an old path, kept for one release: the same handler serves it, and openapi.yaml
 * marks it deprecated (its operationId is the one it had, so generated clients keep working).
 */
function deprecatedAlias<P, Q, J, M>(route: RouteSpec<P, Q, J, M>, path: string, operationId: string): RouteSpec<P, Q, J, M> {
  const current = `${route.method.toUpperCase()} ${route.path}`;
  return {
    ...route,
    path,
    operationId,
    description: [`Deprecated: the old path of \`${current}\`, served until the next release.`, route.description].filter(Boolean).join(' '),
    deprecated: true,
    aliasOf: route,
  };
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
    "A small request (at most the server's synchronous row limit, default 512 rows, and ESM limit, default 2000) answers 200 with the finished job;",
    'a larger one, or one sent with `?async=true` or `Prefer: respond-async`, answers 202 with the queued job and its Location.',
    "A job runs for at most the server's time limit (default 60 minutes), then fails with a `time-limit` problem.",
  ].join(' '),
  query: s.RankingsQuery,
  json: s.RankingRequest,
  multipart: s.RankingUpload,
  responses: {
    200: { description: 'ranked synchronously: the finished job with its result', content: json(s.RankingJob) },
    202: { description: 'queued: follow Location, or its events', content: json(s.RankingJob), headers: { Location: 'the job: /v1/rankings/{id}' } },
    503: {
      description: 'the ranking queue is full (default 32 jobs waiting), for a ranking that would be queued; nothing was stored',
      content: problem,
      headers: { 'Retry-After': 'seconds until the running job is expected to end' },
    },
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

export const postFinetune = route({
  method: 'post',
  path: '/v1/finetunes',
  operationId: 'createFinetune',
  tag: 'finetunes',
  summary: 'Fine-tune the base model on a source task, then on the target dataset',
  description: [
    'A two-stage job: the intermediate stage on the source task, the ESM of that fine-tune trained and registered (so the pool grows), then a fresh head on the target.',
    'The target is an uploaded dataset file; the source is an uploaded file (`source_file`), a registered source task (`esm_id`), or "fine-tune with this source" of a ranking (`ranking_id` + `rank`, as each ranked task\'s `finetune` gives them).',
    'Hyper-parameters and masking (none, gmt, dps) per stage as StageSettings JSON. Answers 202 with the queued job: fine-tunes run one at a time, each in a process of its own,',
    "for at most the server's time limit (default 24 hours), then it is stopped and fails with a `time-limit` problem.",
  ].join(' '),
  multipart: s.FinetuneUpload,
  responses: {
    202: { description: 'queued: follow Location, or its events', content: json(s.FinetuneJob), headers: { Location: 'the job: /v1/finetunes/{id}' } },
    409: {
      description: 'the source cannot be used yet: the ranking has not succeeded, or the source task has no dataset file in the data dir',
      content: problem,
    },
    503: {
      description: 'the fine-tune queue is full (default 8 jobs waiting); the request was refused before its files were read, and nothing was stored',
      content: problem,
      headers: { 'Retry-After': 'seconds until the running fine-tune is expected to end' },
    },
  },
});

export const getFinetune = route({
  method: 'get',
  path: '/v1/finetunes/{id}',
  operationId: 'getFinetune',
  tag: 'finetunes',
  summary: 'A fine-tune: status, progress (stage, epoch, step, loss, ETA), epochs so far and, once it succeeded, its result',
  params: s.FinetuneId,
  responses: { 200: { description: 'the job', content: json(s.FinetuneJob) } },
});

export const finetuneEvents = route({
  method: 'get',
  path: '/v1/finetunes/{id}/events',
  operationId: 'streamFinetuneEvents',
  tag: 'finetunes',
  summary: "A fine-tune's progress as Server-Sent Events",
  description: [
    'Events: `progress` (data: FinetuneProgress; only the newest reaches a client that falls behind), `stage` (data: {stage, status}: started, completed or restored),',
    '`epoch` (data: FinetuneEpoch, every one), `esm` (data: {source_id, source}: the ESM of the intermediate fine-tune, registered), then one `succeeded`, `failed` or `cancelled` (data: FinetuneJob) and the stream ends.',
    'The first event is the current state (`progress`, or the final event of a job that has ended).',
  ].join(' '),
  params: s.FinetuneId,
  responses: { 200: { description: 'the event stream', content: { 'text/event-stream': s.Text } } },
});

export const deleteFinetune = route({
  method: 'delete',
  path: '/v1/finetunes/{id}',
  operationId: 'cancelFinetune',
  tag: 'finetunes',
  summary: 'Cancel a queued or running fine-tune (its process is stopped and its folder removed; an ESM it registered stays)',
  params: s.FinetuneId,
  responses: { 200: { description: 'the cancelled job', content: json(s.FinetuneJob) }, 409: { description: 'the job has already ended', content: problem } },
});

export const listEsms = route({
  method: 'get',
  path: '/v1/esms',
  operationId: 'listEsms',
  tag: 'esms',
  summary: 'The registered source tasks (ESMs), filtered and paged',
  query: s.EsmsQuery,
  responses: { 200: { description: 'one page, in id order', content: json(s.EsmList) } },
});

export const postEsm = route({
  method: 'post',
  path: '/v1/esms',
  operationId: 'createEsms',
  tag: 'esms',
  summary: 'Import hfselect ESM folders from the import directory, or upload one ESM',
  description:
    'JSON: import every ESM folder under `path`, relative to `<data dir>/imports/` (rerunning skips what is registered). Multipart: one ESM as `config` (config.json) and `weights` (model.safetensors).',
  json: s.ImportRequest,
  multipart: s.EsmUpload,
  responses: {
    200: { description: 'imported folders, or an uploaded ESM that was already registered', content: json(s.ImportSummary.or(s.UploadedEsm)) },
    201: { description: 'the uploaded ESM, registered', content: json(s.UploadedEsm), headers: { Location: 'the ESM: /v1/esms/{id}' } },
  },
});

export const getEsm = route({
  method: 'get',
  path: '/v1/esms/{id}',
  operationId: 'getEsm',
  tag: 'esms',
  summary: 'One registered ESM: its config, checksum and training report',
  params: s.EsmId,
  responses: { 200: { description: 'the ESM', content: json(s.Esm) } },
});

export const deleteEsm = route({
  method: 'delete',
  path: '/v1/esms/{id}',
  operationId: 'deleteEsm',
  tag: 'esms',
  summary: 'Delete a registered ESM (row and weights file)',
  params: s.EsmId,
  responses: { 200: { description: 'the deleted ESM', content: json(s.Esm) } },
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
  responses: {
    200: { description: 'ready', content: json(s.Readiness) },
    503: { description: 'not ready (shutting down, or the registry fails)', content: problem },
  },
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

/** The ESM routes' old paths (`/v1/sources…`), deprecated. */
const SOURCE_ALIASES = [
  deprecatedAlias(listEsms, '/v1/sources', 'listSources'),
  deprecatedAlias(postEsm, '/v1/sources', 'createSources'),
  deprecatedAlias(getEsm, '/v1/sources/{id}', 'getSource'),
  deprecatedAlias(deleteEsm, '/v1/sources/{id}', 'deleteSource'),
  deprecatedAlias(postPull, '/v1/sources/pull', 'pullSources'),
  deprecatedAlias(getPull, '/v1/sources/pull/{id}', 'getPull'),
  deprecatedAlias(pullEvents, '/v1/sources/pull/{id}/events', 'streamPullEvents'),
  deprecatedAlias(deletePull, '/v1/sources/pull/{id}', 'cancelPull'),
];

/** Every route, in the order openapi.yaml lists them. */
export const ROUTES: readonly AnyRouteSpec[] = [
  postRanking,
  getRanking,
  rankingEvents,
  deleteRanking,
  postFinetune,
  getFinetune,
  finetuneEvents,
  deleteFinetune,
  listEsms,
  postEsm,
  getEsm,
  deleteEsm,
  ...HUB_ROUTES,
  ...SOURCE_ALIASES,
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
