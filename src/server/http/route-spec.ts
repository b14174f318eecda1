import type { z } from 'zod';

export const JSON_MEDIA_TYPE = 'application/json';
export const MULTIPART_MEDIA_TYPE = 'multipart/form-data';

export interface ResponseSpec {
  readonly description: string;
  /** Media type → schema of the body. */
  readonly content?: Readonly<Record<string, z.ZodType>>;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * One operation of the HTTP service: the app serves exactly these (src/server/http/app.ts registers a
 * handler for each and nothing else) and openapi.yaml documents exactly these.
 */
export interface RouteSpec<P = unknown, Q = unknown, J = unknown, M = unknown> {
  readonly method: 'get' | 'post' | 'delete';
  /** OpenAPI's form: `/v1/rankings/{id}`. */
  readonly path: string;
  readonly operationId: string;
  readonly tag: string;
  readonly summary: string;
  readonly description?: string;
  /** Served without the bearer token even when one is configured: the probes, and the docs (nothing in them is secret). */
  readonly open?: boolean;
  readonly params?: z.ZodType<P, unknown>;
  readonly query?: z.ZodType<Q, unknown>;
  /** Accepted request bodies, by media type. */
  readonly json?: z.ZodType<J, unknown>;
  readonly multipart?: z.ZodType<M, unknown>;
  readonly responses: Readonly<Record<number, ResponseSpec>>;
  /** Kept for one release under an old path: `deprecated: true` in openapi.yaml. */
  readonly deprecated?: boolean;
  /** The route whose handler serves this one too (a deprecated alias's route). */
  readonly aliasOf?: RouteSpec<P, Q, J, M>;
}

/**
 * A route of any schemas, as the route table and the handler binding hold them (a route's own
 * handler sees its schemas' types; the table cannot, each route having others).
 */
// biome-ignore lint/suspicious/noExplicitAny: the schemas differ per route, and RouteSpec is invariant in them.
export type AnyRouteSpec = RouteSpec<any, any, any, any>;
