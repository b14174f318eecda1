import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubConfig } from '../../src/hub/config.js';
import { listEsms } from '../../src/store/esms.js';
import { publishEsmPool } from '../helpers/hub/seed.js';
import { type HubStandin, startHubStandin } from '../helpers/hub/standin.js';
import { json, readEvents, type TestServer, testServer } from '../helpers/server.js';

/** POST /v1/sources/pull and GET /v1/hub/coverage, against the Hub stand-in. */
const HF_TOKEN = 'hf_server_side_token_42';
let hub: HubStandin;
beforeAll(async () => {
  hub = await startHubStandin({ tokens: { [HF_TOKEN]: { name: 'service', role: 'read' } } });
  hub.store.create('model', 'google-bert/bert-base-uncased');
  hub.store.rename('model', 'bert-base-uncased', 'google-bert/bert-base-uncased');
  hub.store.create('model', 'other/model');
  publishEsmPool(hub, { count: 5, dim: 4, baseModel: 'bert-base-uncased', owner: 'bert' });
  publishEsmPool(hub, { count: 2, dim: 4, baseModel: 'other/model', owner: 'other' });
});
afterAll(() => hub.close());

const hubFor = (standin: HubStandin, extra: NodeJS.ProcessEnv = {}) => hubConfig({ HF_ENDPOINT: standin.endpoint, HF_TOKEN, ...extra });

async function server(options: Parameters<typeof testServer>[0] = {}): Promise<TestServer> {
  return testServer({ demo: false, hub: hubFor(hub), ...options });
}

/** Polls a job until it has ended. */
async function ended(s: TestServer, location: string): Promise<any> {
  for (;;) {
    const job: any = await (await s.app.request(location)).json();
    if (!['queued', 'running'].includes(job.status)) return job;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('POST /v1/sources/pull', () => {
  it('pulls the ESMs of a base model as a job, with progress events per repo; pulling again downloads nothing', async () => {
    const s = await server();
    try {
      const created = await s.app.request('/v1/sources/pull', json({ base_model: 'bert-base-uncased' }));
      expect(created.status).toBe(202);
      const location = created.headers.get('location')!;
      expect(location).toMatch(/^\/v1\/sources\/pull\/[\w-]+$/);
      const events = await readEvents(await s.app.request(`${location}/events`));
      const job = await ended(s, location);
      expect(job).toMatchObject({ status: 'succeeded', request: { base_model: 'bert-base-uncased' }, progress: { fraction: 1, stage: 'done' } });
      expect(job.result).toMatchObject({ base_model: 'google-bert/bert-base-uncased', repos: 5, imported: 5, unchanged: 0 });
      expect(job.result.outcomes.every((o: { source_id?: number }) => Number.isInteger(o.source_id))).toBe(true);
      expect(events.at(-1)!.event).toBe('succeeded');
      // Each repo's outcome is an event of its own (unless the stream began after it).
      expect(events.filter((e) => e.event === 'repo').length).toBeLessThanOrEqual(5);
      expect(listEsms(s.context.registry, { hub_base_model: 'google-bert/bert-base-uncased' })).toHaveLength(5);

      const again = await s.app.request('/v1/sources/pull', json({ repos: ['bert/esm-0001', 'other/esm-0000'] }));
      const second = await ended(s, again.headers.get('location')!);
      expect(second.result).toMatchObject({ repos: 2, imported: 1, unchanged: 1 });
      const source = second.result.outcomes.find((o: { repo: string }) => o.repo === 'other/esm-0000').source_id;
      expect(((await (await s.app.request(`/v1/sources/${source}`)).json()) as any).origin).toMatch(/^hf:\/\/other\/esm-0000@[0-9a-f]{40}$/);
      expect(JSON.stringify([job, second, s.logs])).not.toContain(HF_TOKEN);
    } finally {
      await s.context.close(0);
    }
  });

  it('answers bad requests with a problem naming the field', async () => {
    const s = await server();
    try {
      const problem = async (body: unknown) => {
        const response = await s.app.request('/v1/sources/pull', json(body));
        return [response.status, response.headers.get('content-type'), ((await response.json()) as any).field];
      };
      expect(await problem({})).toEqual([422, 'application/problem+json', 'base_model']);
      expect(await problem({ base_model: 'x', repos: ['a/b'] })).toEqual([422, 'application/problem+json', 'repos']);
      expect(await problem({ repos: ['a/b', 'a/../b'] })).toEqual([422, 'application/problem+json', 'repos.1']);
      expect(await problem({ repos: ['a/b'], task: 'x' })).toEqual([422, 'application/problem+json', 'task']);
      expect(await problem({ base_model: 'x', concurrency: 1000 })).toEqual([422, 'application/problem+json', 'concurrency']);
      expect(await problem({ base_model: 'x', token: HF_TOKEN })).toEqual([422, 'application/problem+json', 'token']);

      // A base model the Hub does not know fails the job with a problem naming it.
      const created = await s.app.request('/v1/sources/pull', json({ base_model: 'nobody/nothing' }));
      const job = await ended(s, created.headers.get('location')!);
      expect(job).toMatchObject({ status: 'failed', error: { status: 422, field: 'base_model' } });
      expect(job.error.detail).toMatch(/^base_model: base model nobody\/nothing: not found on the Hub/);
    } finally {
      await s.context.close(0);
    }
  });

  it('needs the bearer token when the server has one, and says when HF_HUB_OFFLINE is set', async () => {
    const guarded = await server({ token: 'api-token' });
    try {
      expect((await guarded.app.request('/v1/sources/pull', json({ base_model: 'x' }))).status).toBe(401);
      expect((await guarded.app.request('/v1/hub/coverage')).status).toBe(401);
    } finally {
      await guarded.context.close(0);
    }
    const offline = await server({ hub: hubFor(hub, { HF_HUB_OFFLINE: '1' }) });
    try {
      const before = hub.requests.length;
      for (const response of [await offline.app.request('/v1/sources/pull', json({ base_model: 'x' })), await offline.app.request('/v1/hub/coverage')]) {
        expect(response.status).toBe(503);
        expect(((await response.json()) as any).detail).toMatch(/needs the Hugging Face Hub, but HF_HUB_OFFLINE is set/);
      }
      expect(hub.requests.length).toBe(before);
    } finally {
      await offline.context.close(0);
    }
  });

  it('cancels a running pull; what it registered stays', async () => {
    const slow = await startHubStandin({ latencyMs: 50 });
    publishEsmPool(slow, { count: 20, dim: 4, baseModel: 'some/model' });
    slow.store.create('model', 'some/model');
    const s = await server({ hub: hubConfig({ HF_ENDPOINT: slow.endpoint }) });
    try {
      const created = await s.app.request('/v1/sources/pull', json({ base_model: 'some/model', concurrency: 1 }));
      const location = created.headers.get('location')!;
      while (((await (await s.app.request(location)).json()) as any).progress.done < 2) await new Promise((resolve) => setTimeout(resolve, 20));
      const cancelled: any = await (await s.app.request(location, { method: 'DELETE' })).json();
      expect(cancelled.status).toBe('cancelled');
      const kept = listEsms(s.context.registry).length;
      expect(kept).toBeGreaterThanOrEqual(2);
      expect(kept).toBeLessThan(20);
      expect((await s.app.request(location, { method: 'DELETE' })).status).toBe(409);
    } finally {
      await s.context.close(0);
      await slow.close();
    }
  });

  it('runs a pull again after a restart, skipping what it registered before', async () => {
    const slow = await startHubStandin({ latencyMs: 50 });
    publishEsmPool(slow, { count: 12, dim: 4, baseModel: 'some/model' });
    slow.store.create('model', 'some/model');
    const dataDir = join(mkdtempSync(join(tmpdir(), 'esmselect-pull-restart-')), 'data');
    const options = { dataDir, hub: hubConfig({ HF_ENDPOINT: slow.endpoint }) };
    const first = await server(options);
    const created = await first.app.request('/v1/sources/pull', json({ base_model: 'some/model', concurrency: 1 }));
    const location = created.headers.get('location')!;
    while (((await (await first.app.request(location)).json()) as any).progress.done < 3) await new Promise((resolve) => setTimeout(resolve, 20));
    // A shutdown that does not wait: the job goes back to the queue.
    await first.context.close(0);
    const second = await server(options);
    try {
      const job = await ended(second, location);
      expect(job.status).toBe('succeeded');
      expect(job.result.unchanged).toBeGreaterThanOrEqual(3);
      expect(job.result.imported + job.result.unchanged + job.result.skipped).toBe(12);
      expect(listEsms(second.context.registry)).toHaveLength(12);
    } finally {
      await second.context.close(0);
      await slow.close();
    }
  });
});

describe('GET /v1/hub/coverage', () => {
  it("counts the Hub's ESMs per base model, and says so when the Hub cannot be reached", async () => {
    const s = await server();
    try {
      const response = await s.app.request('/v1/hub/coverage');
      expect(await response.json()).toEqual({
        coverage: [
          { base_model: 'google-bert/bert-base-uncased', esms: 5 },
          { base_model: 'other/model', esms: 2 },
        ],
      });
    } finally {
      await s.context.close(0);
    }
    const down = await server({ hub: hubConfig({ HF_ENDPOINT: 'http://127.0.0.1:1', HF_TOKEN }) });
    try {
      const response = await down.app.request('/v1/hub/coverage');
      const body: any = await response.json();
      expect([response.status, body.detail]).toEqual([502, expect.stringMatching(/^listing the ESMs: cannot reach the Hub at http:\/\/127\.0\.0\.1:1 /)]);
      expect(JSON.stringify(body)).not.toContain(HF_TOKEN);
    } finally {
      await down.context.close(0);
    }
  });
});
