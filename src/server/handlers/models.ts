import { listModels as findModels } from '../../embed/model-folder.js';
import type { ServerContext } from '../context.js';
import { type Handler, handler } from '../http/handler.js';
import { listModels } from '../http/routes.js';

/** The base models of the models directory. */
export function modelHandlers(ctx: ServerContext): Handler[] {
  return [handler(listModels, async (_, c) => c.json({ models: await findModels(ctx.modelsDir) }))];
}
