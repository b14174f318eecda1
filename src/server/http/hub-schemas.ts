import { z } from 'zod';
import { repoIdProblem } from '../../hub/names.js';
import { JOB_STATES } from '../../store/jobs.js';
import { Problem } from './schemas.js';

/**
 * The schemas of the service's Hugging Face Hub routes (pulling ESMs, the Hub's coverage); named
 * ones become components of openapi.yaml, as those of schemas.ts do.
 */
function named<T extends z.ZodType>(id: string, schema: T): T {
  return schema.meta({ id });
}

/** Most repos one pull names; more are pulled by base model. */
export const MAX_PULL_REPOS = 1000;
/** Most repos a pull downloads at once. */
export const MAX_PULL_CONCURRENCY = 32;

const repoId = z
  .string()
  .min(1)
  .max(200)
  .superRefine((id, context) => {
    const invalid = repoIdProblem(id);
    if (invalid) context.addIssue({ code: 'custom', message: invalid });
  });

export const PullRequest = named(
  'PullRequest',
  z
    .strictObject({
      base_model: z
        .string()
        .min(1)
        .max(200)
        .optional()
        .describe(
          "pull the ESMs published for this base model (an old name, e.g. bert-base-uncased, is followed to the current one), as hfselect's find_esm_repo_ids finds them",
        ),
      repos: z.array(repoId).min(1).max(MAX_PULL_REPOS).optional().describe("or exactly these repos (hfselect's esm_repo_ids)"),
      task: z.string().min(1).max(200).optional().describe('with base_model: only ESMs whose repo id or task id contains this text (case-insensitive)'),
      revision: z.string().min(1).max(200).optional().describe('a branch, tag or commit to read each repo at (default: the head of main)'),
      concurrency: z.int().min(1).max(MAX_PULL_CONCURRENCY).optional().describe('repos downloaded at once (default 8)'),
    })
    .superRefine((request, context) => {
      if (request.base_model === undefined && request.repos === undefined) {
        context.addIssue({ code: 'custom', path: ['base_model'], message: 'name a base model, or the repos to pull' });
      }
      if (request.repos !== undefined && request.base_model !== undefined)
        context.addIssue({ code: 'custom', path: ['repos'], message: 'give repos or base_model, not both' });
      if (request.repos !== undefined && request.task !== undefined)
        context.addIssue({ code: 'custom', path: ['task'], message: 'selects from the listing of a base model; named repos are pulled as named' });
    })
    .describe('what `esmselect esm pull` takes: a base model (and a task filter) or repos, a revision, the concurrency'),
);

export const PullProgress = named(
  'PullProgress',
  z.object({
    fraction: z.number().min(0).max(1).describe('repos done of those listed'),
    stage: z
      .enum(['queued', 'listing', 'pulling', 'done'])
      .describe('listing: asking the Hub for the repos; pulling: downloading, checking and registering them'),
    eta_seconds: z.number().nullable().describe('estimated seconds left, from the pace so far; null until there is enough to go on'),
    done: z.int().optional(),
    total: z.int().optional(),
  }),
);

const PullOutcome = z.object({
  repo: z.string(),
  commit: z.string().nullable().describe('the commit its files were read at'),
  status: z
    .enum(['imported', 'skipped', 'unchanged', 'rejected', 'failed'])
    .describe(
      'imported: a new ESM; skipped: the registry had this ESM; unchanged: the commit pulled before, nothing downloaded; rejected: not a usable ESM, or not what the Hub announced; failed: the Hub could not be asked (pull again)',
    ),
  source_id: z.int().optional().describe('the ESM: GET /v1/esms/{source_id}'),
  reason: z.string().optional(),
});

export const PullResult = named(
  'PullResult',
  z.object({
    base_model: z.string().nullable().describe("the base model's current name on the Hub"),
    repos: z.int(),
    imported: z.int(),
    skipped: z.int(),
    unchanged: z.int(),
    rejected: z.int(),
    failed: z.int(),
    outcomes: z.array(PullOutcome),
  }),
);

export const PullJob = named(
  'PullJob',
  z.object({
    id: z.string(),
    status: z.enum(JOB_STATES),
    progress: PullProgress,
    restarts: z.int().describe('how often a stopped server left it running and it was started again (a pull again skips what it registered)'),
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
    error: Problem.optional().describe('when failed'),
    links: z.object({ self: z.string(), events: z.string() }),
    request: PullRequest,
    result: PullResult.optional().describe('when succeeded'),
  }),
);

export const PullId = z.strictObject({ id: z.string().min(1).max(100).describe('the job id POST /v1/esms/pull returned') });

export const HubCoverage = named(
  'HubCoverage',
  z.object({
    coverage: z
      .array(z.object({ base_model: z.string().nullable().describe('null: ESMs whose tags name no base model'), esms: z.int() }))
      .describe("ESMs on the Hub per base model, most first (hfselect's get_esm_coverage)"),
  }),
);
