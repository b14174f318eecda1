import { Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import type { ServerContext } from '../context.js';
import { esmHandlers } from '../handlers/esms.js';
import { finetuneHandlers } from '../handlers/finetunes.js';
import { hubHandlers } from '../handlers/hub.js';
import { modelHandlers } from '../handlers/models.js';
import { operationHandlers } from '../handlers/operations.js';
import { rankingHandlers } from '../handlers/rankings.js';
import { bearerAuth } from './auth.js';
import { BodyThreads } from './body-threads.js';
import { docsHandlers } from './docs.js';
import type { Handler } from './handler.js';
import { problem, problemFor, problemResponse } from './problem.js';
import { redactResponses } from './redact.js';
import { honoPath, ROUTES } from './routes.js';

/**
 * nginx's "client closed request": what is counted for a request whose client went away before
 * its answer (a dropped upload). Nobody reads the answer; it is not a failure of the server.
 */
const CLIENT_CLOSED_REQUEST = 499;

/** The routes of the table whose path matches, whatever their method (for 405 and Allow). */
function methodsFor(path: string): string[] {
  return ROUTES.filter((r) => new RegExp(`^${r.path.replace(/\{\w+\}/g, '[^/]+')}$`).test(path)).map((r) => r.method.toUpperCase());
}

/**
 * The HTTP service as a Hono app: exactly the routes of ROUTES (src/server/http/routes.ts), each with
 * its validation, body limit and, when a token is set, bearer auth; every error an RFC 9457
 * problem. Tests drive it with `app.request()`; `startServer` puts it on a socket.
 */
export function createApp(ctx: ServerContext): Hono {
  const app = new Hono();
  app.use('*', ctx.metrics.middleware());
  app.use('*', redactResponses(ctx));
  app.onError((error, c) => {
    if (c.req.raw.signal.aborted) {
      ctx.log(`${c.req.method} ${c.req.path}: the client closed the connection before the answer (${error instanceof Error ? error.message : String(error)})`);
      return new Response(null, { status: CLIENT_CLOSED_REQUEST });
    }
    // A middleware's own answer (bearer auth's refusal, already a problem document).
    if (error instanceof HTTPException) return error.getResponse();
    const { problem: body, headers } = problemFor(error);
    if (body.status >= 500) ctx.log(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return problemResponse(body, headers);
  });
  app.notFound((c) => {
    const allowed = methodsFor(c.req.path);
    if (allowed.length)
      return problemResponse(problem('method-not-allowed', `${c.req.method} ${c.req.path}: allowed are ${allowed.join(', ')}`), { allow: allowed.join(', ') });
    return problemResponse(problem('not-found', `${c.req.path}: no such resource (GET /docs lists them)`));
  });

  const handlers: Handler[] = [
    ...rankingHandlers(ctx),
    ...finetuneHandlers(ctx),
    ...esmHandlers(ctx),
    ...hubHandlers(ctx),
    ...modelHandlers(ctx),
    ...operationHandlers(ctx),
    ...docsHandlers(ctx),
  ];
  const missing = ROUTES.filter((route) => !route.aliasOf && handlers.filter((h) => h.route === route).length !== 1);
  const extra = handlers.filter((h) => !ROUTES.includes(h.route) || h.route.aliasOf);
  if (missing.length || extra.length)
    throw new Error(`routes without exactly one handler: ${[...missing, ...extra.map((h) => h.route)].map((r) => r.operationId).join(', ')}`);

  const parser = new BodyThreads(ctx.workers);
  const auth = ctx.token === undefined ? undefined : bearerAuth(ctx.token);
  const limit = bodyLimit({
    maxSize: ctx.limits.bodyBytes,
    onError: () =>
      problemResponse(problem('payload-too-large', `body: larger than the server's limit of ${ctx.limits.bodyBytes} bytes (ESMSELECT_MAX_BODY_MB)`, 'body')),
  });
  for (const route of ROUTES) {
    // A deprecated alias is served by its route's handler.
    const { handle } = handlers.find((h) => h.route === (route.aliasOf ?? route))!;
    const middleware: MiddlewareHandler[] = [];
    if (auth && !route.open) middleware.push(auth);
    if (route.json || route.multipart) middleware.push(limit);
    app.on([route.method.toUpperCase()], [honoPath(route.path)], ...middleware, (c) => handle(c, parser));
  }
  return app;
}
