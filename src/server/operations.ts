import { listModels as findModels } from '../embed/model-folder.js';
import { countEsms } from '../store/esms.js';
import { countJobsByState } from '../store/jobs.js';
import type { ServerContext } from './context.js';
import { handler, type Handler } from './handler.js';
import { HttpProblem } from './problem.js';
import { healthz, listModels, metrics, readyz } from './routes.js';

/** The base models, the probes and the metrics. */
export function operationHandlers(ctx: ServerContext): Handler[] {
  return [
    handler(listModels, async (_, c) => c.json({ models: await findModels(ctx.modelsDir) })),
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
