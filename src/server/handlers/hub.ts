import { requireOnline } from '../../hub/config.js';
import { getEsmCoverage } from '../../hub/search.js';
import type { ServerContext } from '../context.js';
import { type Handler, handler } from '../http/handler.js';
import { deletePull, getPull, hubCoverage, postPull, pullEvents } from '../http/hub-routes.js';
import { jobResource, withLinks } from '../http/job-resource.js';
import { hubProblem } from '../http/problem.js';
import { streamEvents } from '../http/sse.js';

/** The service's Hugging Face Hub routes: pull jobs, and the Hub's coverage. */
export function hubHandlers(ctx: ServerContext): Handler[] {
  return [
    handler(
      postPull,
      async ({ body }, c) => {
        // Refused now rather than as a failed job.
        try {
          requireOnline(ctx.hubConfig(), `POST ${c.req.path}`);
        } catch (error) {
          throw hubProblem(error);
        }
        const job = await ctx.jobs.submit('pull', body.value as object, async () => {});
        // The job under the path asked (`/v1/esms/pull`, or its deprecated alias).
        return c.json(jobResource(ctx, job), 202, { location: `${c.req.path}/${job.id}` });
      },
      { before: () => ctx.jobs.checkRoom('pull') },
    ),
    handler(getPull, ({ params }, c) => c.json(jobResource(ctx, ctx.jobs.get(params.id, 'pull')))),
    handler(pullEvents, ({ params }, c) => streamEvents(ctx, 'pull', params.id, c)),
    handler(deletePull, async ({ params }, c) => c.json(withLinks(await ctx.jobs.cancel(params.id, 'pull'), 'pull'))),
    handler(hubCoverage, async (_, c) => {
      try {
        const coverage = await getEsmCoverage({ hub: ctx.hubConfig() });
        return c.json({ coverage: coverage.map(({ baseModel, esms }) => ({ base_model: baseModel, esms })) });
      } catch (error) {
        throw hubProblem(error);
      }
    }),
  ];
}
