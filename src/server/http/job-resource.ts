import type { JobView } from '../../jobs/runner.js';
import type { JobKind, StoredJob } from '../../store/jobs.js';
import type { ServerContext } from '../context.js';

/** Where the jobs of each kind live in the API. */
const COLLECTIONS: Readonly<Record<JobKind, string>> = {
  ranking: '/v1/rankings',
  finetune: '/v1/finetunes',
  pull: '/v1/esms/pull',
};

/** The API path of a job: `/v1/rankings/{id}`. */
export function jobPath(kind: JobKind, id: string): string {
  return `${COLLECTIONS[kind]}/${id}`;
}

/** A job's view as the API shows it: the runner's view with the links to the job and its events. */
export function withLinks(view: JobView, kind: JobKind): JobView & { readonly links: { readonly self: string; readonly events: string } } {
  const self = jobPath(kind, view.id);
  return { ...view, links: { self, events: `${self}/events` } };
}

/** The API's view of a stored job. */
export function jobResource(ctx: ServerContext, job: StoredJob): ReturnType<typeof withLinks> {
  return withLinks(ctx.jobs.view(job), job.kind);
}
