import type { Context } from 'hono';
import type { z } from 'zod';
import { HttpProblem, validationProblem, type InputLocation } from './problem.js';
import { JSON_MEDIA_TYPE, MULTIPART_MEDIA_TYPE, type RouteSpec } from './routes.js';

/** A request's inputs, validated by its route's schemas. */
export interface Input<P, Q, J, M> {
  readonly params: P;
  readonly query: Q;
  readonly body: { readonly type: 'json'; readonly value: J } | { readonly type: 'multipart'; readonly value: M };
}

/** A route of the table with the function that answers it. */
export interface Handler {
  readonly route: RouteSpec<any, any, any, any>;
  readonly handle: (c: Context) => Promise<Response>;
}

function parse<T>(schema: z.ZodType<T, unknown>, value: unknown, location: InputLocation): T {
  const result = schema.safeParse(value);
  if (!result.success) throw validationProblem(result.error, location);
  return result.data;
}

/** The media type of a Content-Type header, lower-cased, without parameters. */
function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0].trim().toLowerCase();
}

async function readBody<J, M>(route: RouteSpec<unknown, unknown, J, M>, c: Context): Promise<Input<unknown, unknown, J, M>['body'] | undefined> {
  if (!route.json && !route.multipart) return undefined;
  const type = mediaType(c.req.header('content-type'));
  if (route.json && (type === JSON_MEDIA_TYPE || type.endsWith('+json'))) {
    let value: unknown;
    try {
      value = await c.req.json();
    } catch (error) {
      // A body cut short because its client went away is not a malformed body (app.ts answers it).
      if (error instanceof HttpProblem || c.req.raw.signal.aborted) throw error;
      throw new HttpProblem('bad-request', 'body: not valid JSON (NaN and Infinity are not JSON either)', 'body');
    }
    return { type: 'json', value: parse(route.json, value, 'body') };
  }
  if (route.multipart && type === MULTIPART_MEDIA_TYPE) {
    let form: Record<string, unknown>;
    try {
      form = await c.req.parseBody({ all: true });
    } catch (error) {
      if (error instanceof HttpProblem || c.req.raw.signal.aborted) throw error;
      throw new HttpProblem('bad-request', 'body: the multipart form cannot be read (truncated, or a wrong boundary?)', 'body');
    }
    return { type: 'multipart', value: parse(route.multipart, form, 'body') };
  }
  const accepted = [route.json && JSON_MEDIA_TYPE, route.multipart && MULTIPART_MEDIA_TYPE].filter(Boolean).join(' or ');
  throw new HttpProblem('unsupported-media-type', `content-type: send ${accepted}${type ? `, not ${type}` : ''}`, 'content-type', { 'accept-post': accepted.replace(' or ', ', ') });
}

/** Binds a handler to its route: the params, query and body arrive validated, or the request is answered with the problem. */
export function handler<P, Q, J, M>(route: RouteSpec<P, Q, J, M>, answer: (input: Input<P, Q, J, M>, c: Context) => Promise<Response> | Response): Handler {
  return {
    route,
    handle: async (c) => {
      const params = route.params ? parse(route.params, c.req.param(), 'params') : (undefined as P);
      const query = route.query ? parse(route.query, c.req.query(), 'query') : (undefined as Q);
      const body = await readBody(route, c);
      return answer({ params, query, body: body! }, c);
    },
  };
}
