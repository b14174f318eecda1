import type { z } from 'zod';
import { HubCoverage, PullId, PullJob, PullRequest } from './hub-schemas.js';
import type { RouteSpec } from './route-spec.js';
import { Problem, Text } from './schemas.js';

/** The Hugging Face Hub's routes of the service; routes.ts lists them in ROUTES. */
const json = (schema: z.ZodType) => ({ 'application/json': schema });
const problem = { 'application/problem+json': Problem };
const HUB_NOTE = 'The server reaches the Hub at HF_ENDPOINT with its HF_TOKEN; with HF_HUB_OFFLINE=1 it answers 503.';

export const postPull: RouteSpec<undefined, undefined, z.infer<typeof PullRequest>> = {
  method: 'post',
  path: '/v1/esms/pull',
  operationId: 'pullEsms',
  tag: 'esms',
  summary: 'Pull ESMs from the Hugging Face Hub into the registry (a job)',
  description: [
    "The options of `esmselect esm pull`. Lists the ESMs published for `base_model` (or takes `repos`), downloads each repo's config.json and model.safetensors at one commit,",
    'checks them against the sizes and hashes the Hub announced, and registers them; repos whose commit was pulled before are not downloaded again, so a restarted server',
    `that runs the job again picks up where it stopped. Answers 202 with the queued job. ${HUB_NOTE}`,
  ].join(' '),
  json: PullRequest,
  responses: {
    202: { description: 'queued: follow Location, or its events', content: json(PullJob), headers: { Location: 'the job: /v1/esms/pull/{id}' } },
    503: { description: 'HF_HUB_OFFLINE is set', content: problem },
  },
};

export const getPull: RouteSpec<z.infer<typeof PullId>> = {
  method: 'get',
  path: '/v1/esms/pull/{id}',
  operationId: 'getEsmPull',
  tag: 'esms',
  summary: 'A pull: status, progress (repos done of those listed) and, once it succeeded, what happened to each repo',
  params: PullId,
  responses: { 200: { description: 'the job', content: json(PullJob) } },
};

export const pullEvents: RouteSpec<z.infer<typeof PullId>> = {
  method: 'get',
  path: '/v1/esms/pull/{id}/events',
  operationId: 'streamEsmPullEvents',
  tag: 'esms',
  summary: "A pull's progress as Server-Sent Events",
  description:
    'Events: `progress` (data: PullProgress; only the newest reaches a client that falls behind), `repo` (data: one outcome of PullResult, every one), then one `succeeded`, `failed` or `cancelled` (data: PullJob) and the stream ends. The first event is the current state.',
  params: PullId,
  responses: { 200: { description: 'the event stream', content: { 'text/event-stream': Text } } },
};

export const deletePull: RouteSpec<z.infer<typeof PullId>> = {
  method: 'delete',
  path: '/v1/esms/pull/{id}',
  operationId: 'cancelEsmPull',
  tag: 'esms',
  summary: 'Cancel a queued or running pull (the ESMs it registered stay)',
  params: PullId,
  responses: { 200: { description: 'the cancelled job', content: json(PullJob) }, 409: { description: 'the job has already ended', content: problem } },
};

export const hubCoverage: RouteSpec = {
  method: 'get',
  path: '/v1/hub/coverage',
  operationId: 'hubCoverage',
  tag: 'esms',
  summary: 'How many ESMs the Hugging Face Hub has per base model',
  description: `Lists every repo tagged embedding_space_map and counts them by their base_model:finetune: tag, as hfselect's get_esm_coverage does. ${HUB_NOTE}`,
  responses: {
    200: { description: 'the counts', content: json(HubCoverage) },
    502: { description: 'the Hub refused or could not be reached', content: problem },
    503: { description: 'HF_HUB_OFFLINE is set', content: problem },
  },
};

export const HUB_ROUTES = [postPull, getPull, pullEvents, deletePull, hubCoverage] as const;
