import { countEsms } from '../../store/esms.js';
import { countJobsByState } from '../../store/jobs.js';
import type { ServerContext } from '../context.js';
import { type Handler, handler } from '../http/handler.js';
import { HttpProblem } from '../http/problem.js';
import { healthz, metrics, readyz } from '../http/routes.js';

/** The probes and the metrics. */
export function operationHandlers(ctx: ServerContext): Handler[] {
  return [
    handler(healthz, (_, c) => c.json({ status: 'ok' as const })),
    handler(readyz, (_, c) => {
      if (!ctx.jobs.accepting) throw new HttpProblem('unavailable', 'the server is shutting down', undefined, { 'retry-after': '5' });
      let esms: number;
      try {
        esms = countEsms(ctx.registry);
      } catch (error) {
        throw new HttpProblem('unavailable', `the registry does not answer: ${(error as Error).message}`);
      }
      return c.json({ status: 'ready' as const, esms, jobs: countJobsByState(ctx.registry, 'ranking'), finetunes: countJobsByState(ctx.registry, 'finetune') });
    }),
    handler(metrics, async (_, c) => {
      const { contentType, body } = await ctx.metrics.text();
      return c.body(body, 200, { 'content-type': contentType });
    }),
  ];
}
