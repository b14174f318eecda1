import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { HttpProblem } from './problem.js';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * `Authorization: Bearer <token>`, compared in constant time (both sides hashed first, so neither
 * the token's content nor its length shows in the timing).
 */
export function bearerAuth(token: string): MiddlewareHandler {
  const expected = digest(token);
  const challenge = { 'www-authenticate': 'Bearer realm="esmselect"' };
  return async (c, next) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '');
    if (!match) throw new HttpProblem('unauthorized', 'authorization: send Authorization: Bearer <token> (the server sets ESMSELECT_API_TOKEN)', 'authorization', challenge);
    if (!timingSafeEqual(digest(match[1]), expected)) throw new HttpProblem('unauthorized', 'authorization: the bearer token is not valid', 'authorization', challenge);
    await next();
  };
}
