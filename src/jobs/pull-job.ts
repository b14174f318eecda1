import type { HubConfig } from '../hub/config.js';
import { type PullOutcome, type PullStatus, type PullSummary, pullEsms } from '../registry/pull.js';
import type { Registry } from '../store/database.js';
import type { JobProgress } from '../store/jobs.js';
import type { JobType } from './runner.js';

/** What a pull job takes (the API's PullRequest): the options of `esmselect esm pull`. */
export interface PullJobRequest {
  readonly base_model?: string;
  readonly repos?: string[];
  readonly task?: string;
  readonly revision?: string;
  readonly concurrency?: number;
}

/** An outcome as a pull's view shows it: the ESM by its registry id, `source_id`. */
export type PullOutcomeView = {
  readonly repo: string;
  readonly commit: string | null;
  readonly status: PullStatus;
  readonly source_id?: number;
  readonly reason?: string;
};

/** A pull's result as its view shows it (the API's PullResult). */
export type PullResultView = {
  readonly base_model: string | null;
  readonly repos: number;
  readonly imported: number;
  readonly skipped: number;
  readonly unchanged: number;
  readonly rejected: number;
  readonly failed: number;
  readonly outcomes: PullOutcomeView[];
};

export function outcomeView({ id, ...outcome }: PullOutcome): PullOutcomeView {
  return { ...outcome, ...(id !== undefined && { source_id: id }) };
}

function resultView(summary: PullSummary): PullResultView {
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
 * stays, and a job run again after a restart skips the repos whose commit it recorded. A failure
 * is the Hub's error as it came (HubOfflineError, HubError), for the caller to describe.
 */
export function pullJobType(options: PullJobOptions): JobType {
  return {
    kind: 'pull',
    noun: 'pull',
    firstStage: 'listing',
    async run({ job, signal, progress, event }) {
      const request = job.request as PullJobRequest;
      const started = performance.now();
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
    },
    details(job) {
      return { request: job.request, ...(job.result && { result: job.result }) };
    },
  };
}
