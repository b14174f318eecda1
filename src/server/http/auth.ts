import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { bearerAuth as honoBearerAuth } from 'hono/bearer-auth';
import { UserInputError } from '../../errors.js';
import { problem, problemResponse } from './problem.js';

/** RFC 6750's b64token, the only form a bearer token can take in an Authorization header (and what hono's middleware accepts). */
const BEARER_TOKEN = /^[A-Za-z0-9._~+/-]+=*$/;

const CHALLENGE = { 'www-authenticate': 'Bearer realm="esmselect"' };

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** A refusal as the service answers it: 401, a problem naming `authorization`, and the challenge. */
function refusal(detail: string): () => Response {
  return () => problemResponse(problem('unauthorized', `authorization: ${detail}`, 'authorization'), CHALLENGE);
}

/** Refuses, when the server starts, a token that no client could send: not an RFC 6750 b64token. */
export function checkBearerToken(token: string): void {
  if (!BEARER_TOKEN.test(token)) {
    throw new UserInputError('ESMSELECT_API_TOKEN: a bearer token is letters, digits and -._~+/ (then = padding), as RFC 6750 has it', 'ESMSELECT_API_TOKEN');
  }
}

/**
 * `Authorization: Bearer <token>` (hono's middleware), compared in constant time: both sides are
 * hashed first, so neither the token's content nor its length shows in the timing (hono's own
 * comparison ends with a plain string compare). `createServerContext` has checked the token.
 */
export function bearerAuth(token: string): MiddlewareHandler {
  const expected = digest(token);
  const send = refusal('send Authorization: Bearer <token> (the server sets ESMSELECT_API_TOKEN)');
  return honoBearerAuth({
    realm: 'esmselect',
    verifyToken: (sent) => timingSafeEqual(digest(sent), expected),
    noAuthenticationHeader: { message: send },
    invalidAuthenticationHeader: { message: send },
    invalidToken: { message: refusal('the bearer token is not valid') },
  });
}
