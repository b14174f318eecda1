import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { OPENAPI_FILE, openApiYaml } from '../../src/server/http/openapi.js';
import { honoPath } from '../../src/server/http/routes.js';
import { type TestServer, testServer } from '../helpers/server.js';

let server: TestServer | undefined;
afterAll(() => server?.context.close(0));

describe('openapi.yaml', () => {
  it('is what `npm run openapi` generates from the schemas, byte for byte', () => {
    expect(readFileSync(OPENAPI_FILE, 'utf8')).toBe(openApiYaml());
  });

  it('lists exactly the routes the app serves', async () => {
    server = await testServer({ demo: false });
    const documented = new Set<string>();
    const document = YAML.parse(readFileSync(OPENAPI_FILE, 'utf8')) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(document.openapi).toBe('3.1.0');
    for (const [path, operations] of Object.entries(document.paths))
      for (const method of Object.keys(operations)) documented.add(`${method.toUpperCase()} ${honoPath(path)}`);
    // Hono lists middleware as routes of method ALL; the handlers are the rest.
    const served = new Set(server.app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${r.path}`));
    expect([...served].sort()).toEqual([...documented].sort());
    expect(served.size).toBe(32);
  });
});
