import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import { createServerContext } from '../../src/server/context.js';
import { type TestServer, testServer } from '../helpers/server.js';

/** Bearer auth (hono's middleware, the token compared in constant time), answered as problems. */

let server: TestServer | undefined;
afterEach(async () => {
  await server?.context.close(0);
  server = undefined;
});

describe('bearer auth', () => {
  it('refuses at start a token no client could send, before anything is opened', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'esmselect-auth-'));
    for (const token of ['two words', 'quote"d', 'tab\there', 'émoji']) {
      expect(() => createServerContext({ dataDir, token, startJobs: false }), token).toThrow(UserInputError);
    }
    expect(() => createServerContext({ dataDir, token: 'x y', startJobs: false })).toThrow(/^ESMSELECT_API_TOKEN: /);
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it('answers a missing, malformed or wrong token with a 401 problem and the challenge', async () => {
    server = await testServer({ demo: false, token: 'abc-DEF_123.~+/==' });
    const { app } = server;
    const cases: [string, Record<string, string>, RegExp][] = [
      ['no header', {}, /^authorization: send Authorization: Bearer <token>/],
      ['no token', { authorization: 'Bearer' }, /^authorization: send Authorization: Bearer <token>/],
      ['another scheme', { authorization: 'Basic abc-DEF_123.~+/==' }, /^authorization: send Authorization: Bearer <token>/],
      ['wrong token', { authorization: 'Bearer abc-DEF_123.~+/=' }, /^authorization: the bearer token is not valid$/],
    ];
    for (const [name, headers, detail] of cases) {
      const response = await app.request('/v1/models', { headers });
      expect(response.status, name).toBe(401);
      expect(response.headers.get('content-type'), name).toBe('application/problem+json');
      expect(response.headers.get('www-authenticate'), name).toBe('Bearer realm="esmselect"');
      const problem = (await response.json()) as { field: string; detail: string };
      expect(problem.field, name).toBe('authorization');
      expect(problem.detail, name).toMatch(detail);
    }
    expect((await app.request('/v1/models', { headers: { authorization: 'bearer abc-DEF_123.~+/==' } })).status).toBe(200);
  });
});
