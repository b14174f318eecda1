import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { PACKAGE_ROOT } from '../../config.js';
import { JSON_MEDIA_TYPE, MULTIPART_MEDIA_TYPE, type RouteSpec } from './route-spec.js';
import { ROUTES } from './routes.js';
import { Problem } from './schemas.js';

/** Where the generated document is committed (`npm run openapi` writes it). */
export const OPENAPI_FILE = join(PACKAGE_ROOT, 'openapi.yaml');

type JsonSchema = Record<string, unknown>;
const COMPONENTS = '#/components/schemas/';

/** Our JSON Schema (2020-12, as OpenAPI 3.1 uses) for a zod schema, named components referenced rather than inlined. */
function jsonSchema(schema: z.ZodType): JsonSchema {
  const id = z.globalRegistry.get(schema)?.id;
  if (id !== undefined) return { $ref: `${COMPONENTS}${id}` };
  const generated = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const { $schema: _schema, $defs: _defs, ...rest } = generated;
  // Registered schemas come out as local $defs; the document keeps them once, under components.
  return JSON.parse(JSON.stringify(rest).replaceAll('"#/$defs/', `"${COMPONENTS}`)) as JsonSchema;
}

function componentSchemas(): Record<string, JsonSchema> {
  const { schemas } = z.toJSONSchema(z.globalRegistry, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any', uri: (id) => `${COMPONENTS}${id}` });
  return Object.fromEntries(
    Object.entries(schemas)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([id, { $schema: _schema, $id: _id, ...schema }]) => [id, schema as JsonSchema]),
  );
}

function parameters(where: 'path' | 'query', schema: z.ZodType | undefined): JsonSchema[] {
  if (!schema) return [];
  const { shape } = schema as unknown as z.ZodObject;
  return Object.entries(shape).map(([name, field]) => {
    const { description, ...fieldSchema } = jsonSchema(field as z.ZodType);
    const required = where === 'path' || !(field as z.ZodType).safeParse(undefined).success;
    return { name, in: where, required, ...(description !== undefined && { description }), schema: fieldSchema };
  });
}

function operation(route: RouteSpec): JsonSchema {
  const body: Record<string, { schema: JsonSchema }> = {};
  if (route.json) body[JSON_MEDIA_TYPE] = { schema: jsonSchema(route.json) };
  if (route.multipart) body[MULTIPART_MEDIA_TYPE] = { schema: jsonSchema(route.multipart) };
  const responses: Record<string, JsonSchema> = {};
  for (const [status, response] of Object.entries(route.responses)) {
    responses[status] = {
      description: response.description,
      ...(response.headers && {
        headers: Object.fromEntries(Object.entries(response.headers).map(([name, description]) => [name, { description, schema: { type: 'string' } }])),
      }),
      ...(response.content && {
        content: Object.fromEntries(Object.entries(response.content).map(([type, schema]) => [type, { schema: jsonSchema(schema) }])),
      }),
    };
  }
  responses.default = {
    description: 'an error, as an RFC 9457 problem naming the field at fault',
    content: { 'application/problem+json': { schema: jsonSchema(Problem) } },
  };
  const params = [...parameters('path', route.params), ...parameters('query', route.query)];
  return {
    operationId: route.operationId,
    tags: [route.tag],
    summary: route.summary,
    ...(route.description && { description: route.description }),
    ...(params.length > 0 && { parameters: params }),
    ...(Object.keys(body).length > 0 && { requestBody: { required: true, content: body } }),
    responses,
    ...(route.deprecated && { deprecated: true }),
    ...(route.open && { security: [] }),
  };
}

/** The OpenAPI 3.1 document of every route in ROUTES. */
export function openApiDocument(version: string): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of ROUTES) (paths[route.path] ??= {})[route.method] = operation(route);
  return {
    openapi: '3.1.0',
    info: {
      title: 'esmselect',
      version,
      description:
        'Ranks intermediate source tasks for a target dataset with ESM-LogME. Every error is an RFC 9457 problem (application/problem+json) naming the field at fault.',
    },
    servers: [{ url: 'http://127.0.0.1:8080' }],
    security: [{ bearer: [] }],
    tags: [...new Set(ROUTES.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: componentSchemas(),
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'required when the server sets ESMSELECT_API_TOKEN; /healthz and /readyz are always open' },
      },
    },
  };
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/** openapi.yaml as `npm run openapi` writes it and the server serves it. */
export function openApiYaml(): string {
  return `# Generated from src/server/http/schemas.ts and routes.ts by \`npm run openapi\`; do not edit.\n${YAML.stringify(openApiDocument(packageVersion()), { lineWidth: 0 })}`;
}
