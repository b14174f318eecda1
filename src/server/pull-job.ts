import type { z } from 'zod';
import type { HubConfig } from '../hub/config.js';
import { pullEsms, type PullOutcome, type PullSummary } from '../registry/pull.js';
import type { Registry } from '../store/database.js';
import type { JobProgress } from '../store/jobs.js';
import { hubProblem } from './hub-problems.js';
import type { PullRequest, PullResult } from './hub-schemas.js';
import type { JobType } from './jobs.js';

type Request = z.infer<typeof PullRequest>;

/** An outcome as the API shows it: the ESM by its registry id, `source_id`. */
export function outcomeView({ id, ...outcome }: PullOutcome): z.infer<typeof PullResult>['outcomes'][number] {
  return { ...outcome, ...(id !== undefined && { source_id: id }) };
}

function resultView(summary: PullSummary): z.infer<typeof PullResult> {
  const { baseModel, outcomes, ...counts } = summary;
  return { base_model: baseModel, ...counts, outcomes: outcomes.map(outcomeView) };
}

export interface PullJobOptions {
  readonly registry: Registry;
  /** The Hub the server pulls from (read when a job runs). */
  readonly hub: () => HubConfig;
}

/**
 * Pull jobs: `pullEsms` with the stored request. Progress is repos done of those listed; each repo's
 * outcome is an event. A cancel or shutdown aborts the requests in flight; what was registered
 * stays, and a job run again after a restart skips the repos whose commit it recorded.
 */
export function pullJobType(options: PullJobOptions): JobType {
  return {
    kind: 'pull',
    noun: 'pull',
    path: '/v1/sources/pull',
    firstStage: 'listing',
    async run({ job, signal, progress, event }) {
      const request = job.request as Request;
      const started = performance.now();
      try {
        const summary = await pullEsms(options.registry, {
          baseModel: request.base_model,
          repos: request.repos,
          task: request.task,
          revision: request.revision,
          concurrency: request.concurrency,
          hub: options.hub(),
          signal,
          onProgress: ({ stage, done, total, outcome }) => {
            if (outcome) event('repo', outcomeView(outcome));
            const fraction = total > 0 ? done / total : 0;
            const elapsed = (performance.now() - started) / 1000;
            const eta_seconds = fraction >= 0.02 && fraction < 1 ? Math.round((elapsed * (1 - fraction)) / fraction) : null;
            progress({ fraction, stage, eta_seconds, done, total } satisfies JobProgress);
          },
        });
        return { result: resultView(summary) };
      } catch (error) {
        throw hubProblem(error);
      }
    },
    details(job) {
      return { request: job.request, ...(job.result && { result: job.result }) };
    },
  };
}
