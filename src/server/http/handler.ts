import type { Context } from 'hono';
import type { z } from 'zod';
import { HttpProblem, type InputLocation, validationProblem } from './problem.js';
import { type AnyRouteSpec, JSON_MEDIA_TYPE, MULTIPART_MEDIA_TYPE, type RouteSpec } from './route-spec.js';

/** A request's inputs, validated by its route's schemas. */
export interface Input<P, Q, J, M> {
  readonly params: P;
  readonly query: Q;
  readonly body: { readonly type: 'json'; readonly value: J } | { readonly type: 'multipart'; readonly value: M };
}

/** Parses and validates request bodies: the worker threads (src/server/http/body-threads.ts), so a large body never stalls the event loop. */
export interface BodyParser {
  parseBody(route: AnyRouteSpec, type: 'json' | 'multipart', bytes: ArrayBuffer, contentType: string): Promise<unknown>;
}

/** A route of the table with the function that answers it. */
export interface Handler {
  readonly route: AnyRouteSpec;
  readonly handle: (c: Context, parser: BodyParser) => Promise<Response>;
}

export interface HandlerOptions<P = unknown, Q = unknown> {
  /** Checks made before the body is read: a full queue refuses a request before its upload is read or stored. */
  readonly before?: (input: { readonly params: P; readonly query: Q }, c: Context) => void;
  /**
   * The JSON body comes to the handler as its bytes, unparsed: the handler validates it itself, off
   * the event loop, and keeps its bulk there (a ranking's inline target).
   */
  readonly rawJson?: boolean;
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

/**
 * A request's body, each chunk copied as it arrives into one buffer of the announced length (grown
 * by doubling when there is none): unlike `arrayBuffer()`, which concatenates all chunks at the end
 * (tens of milliseconds for 10 MB, on the event loop), no step copies more than a chunk or two. The
 * buffer is not zero-filled (zeroing 10 MB takes as long as copying it); only written bytes leave.
 */
async function readBytes(request: Request): Promise<ArrayBuffer> {
  const announced = Number(request.headers.get('content-length'));
  let buffer: Uint8Array = Buffer.allocUnsafeSlow(Number.isSafeInteger(announced) && announced > 0 ? announced : 2 ** 16);
  let size = 0;
  for await (const chunk of request.body ?? []) {
    if (size + chunk.byteLength > buffer.byteLength) {
      const grown = Buffer.allocUnsafeSlow(Math.max(size + chunk.byteLength, buffer.byteLength * 2));
      grown.set(buffer.subarray(0, size));
      buffer = grown;
    }
    buffer.set(chunk, size);
    size += chunk.byteLength;
  }
  return (size === buffer.byteLength ? buffer.buffer : buffer.buffer.slice(0, size)) as ArrayBuffer;
}

async function readBody<J, M>(
  route: RouteSpec<unknown, unknown, J, M>,
  c: Context,
  parser: BodyParser,
  rawJson: boolean,
): Promise<Input<unknown, unknown, J, M>['body'] | undefined> {
  if (!route.json && !route.multipart) return undefined;
  const contentType = c.req.header('content-type') ?? '';
  const type = mediaType(contentType);
  const json = route.json && (type === JSON_MEDIA_TYPE || type.endsWith('+json'));
  if (!json && !(route.multipart && type === MULTIPART_MEDIA_TYPE)) {
    const accepted = [route.json && JSON_MEDIA_TYPE, route.multipart && MULTIPART_MEDIA_TYPE].filter(Boolean).join(' or ');
    throw new HttpProblem('unsupported-media-type', `content-type: send ${accepted}${type ? `, not ${type}` : ''}`, 'content-type', {
      'accept-post': accepted.replace(' or ', ', '),
    });
  }
  // Reading only moves bytes (the body limit has counted them); parsing them is CPU work, done by the parser.
  let bytes: ArrayBuffer;
  try {
    bytes = await readBytes(c.req.raw);
  } catch (error) {
    // A body cut short because its client went away is not a malformed body (app.ts answers it).
    if (c.req.raw.signal.aborted) throw error;
    throw new HttpProblem('bad-request', 'body: cannot be read to its end (was the connection cut?)', 'body');
  }
  if (json) return { type: 'json', value: (rawJson ? bytes : await parser.parseBody(route, 'json', bytes, contentType)) as J };
  return { type: 'multipart', value: (await parser.parseBody(route, 'multipart', bytes, contentType)) as M };
}

/** Binds a handler to its route: the params, query and body arrive validated, or the request is answered with the problem. */
export function handler<P, Q, J, M>(
  route: RouteSpec<P, Q, J, M>,
  answer: (input: Input<P, Q, J, M>, c: Context) => Promise<Response> | Response,
  options?: HandlerOptions<P, Q> & { rawJson?: false },
): Handler;
/** With `rawJson`, the JSON body arrives as its bytes. */
export function handler<P, Q, J, M>(
  route: RouteSpec<P, Q, J, M>,
  answer: (input: Input<P, Q, ArrayBuffer, M>, c: Context) => Promise<Response> | Response,
  options: HandlerOptions<P, Q> & { rawJson: true },
): Handler;
export function handler<P, Q, J, M>(
  route: RouteSpec<P, Q, J, M>,
  answer: (input: Input<P, Q, J | ArrayBuffer, M>, c: Context) => Promise<Response> | Response,
  options: HandlerOptions<P, Q> = {},
): Handler {
  return {
    route,
    handle: async (c, parser) => {
      const params = route.params ? parse(route.params, c.req.param(), 'params') : (undefined as P);
      const query = route.query ? parse(route.query, c.req.query(), 'query') : (undefined as Q);
      options.before?.({ params, query }, c);
      const body = await readBody(route, c, parser, options.rawJson ?? false);
      return answer({ params, query, body: body! }, c);
    },
  };
}
