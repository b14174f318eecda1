import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_TEXTS, json, type TestServer, testServer } from '../helpers/server.js';

/**
 * Cancelling a ranking job stops it inside its worker thread. A thread terminated while ONNX
 * Runtime or the native addon is computing ends the whole process when that call returns
 * (`terminate called after throwing an instance of 'Napi::Error'`), so cancelling mid-embedding, as
 * here, took this test's process down with it before jobs were stopped cooperatively.
 */
let server: TestServer | undefined;
afterAll(async () => server?.context.close(1000));

/** Thousands of texts of some 100 tokens: a job that spends many seconds in batch after batch of ONNX inference. */
const TEXTS = Array.from({ length: 4000 }, (_, i) => `${Array.from({ length: 16 }, (_, j) => DEMO_TEXTS.texts[(i + j) % 6]).join(' ')} ${i}`);
const LABELS = Array.from({ length: 4000 }, (_, i) => DEMO_TEXTS.labels[i % 6]);

async function stateOf(app: TestServer['app'], id: string): Promise<string> {
  for (;;) {
    const { status } = (await (await app.request(`/v1/rankings/${id}`)).json()) as { status: string };
    if (!['queued', 'running'].includes(status)) return status;
    await sleep(20);
  }
}

describe('a cancelled ranking job', () => {
  it('stops mid-embedding without ending the process, and the threads rank again afterwards', { timeout: 300_000 }, async () => {
    server = await testServer();
    const { app } = server;
    for (let round = 0; round < 8; round++) {
      const created = await app.request('/v1/rankings?async=true', json({ texts: TEXTS, labels: LABELS, model: 'tiny-bert' }));
      expect(created.status).toBe(202);
      const { id } = (await created.json()) as { id: string };
      // Into the embedding: past reading the target, somewhere among its batches.
      for (;;) {
        const job = (await (await app.request(`/v1/rankings/${id}`)).json()) as { status: string; progress?: { stage: string } };
        if (job.progress?.stage === 'embedding') break;
        expect(['queued', 'running']).toContain(job.status);
        await sleep(10);
      }
      await sleep(round * 40);
      expect((await app.request(`/v1/rankings/${id}`, { method: 'DELETE' })).status).toBe(200);
      expect(await stateOf(app, id)).toBe('cancelled');
    }
    const after = await app.request('/v1/rankings', json({ ...DEMO_TEXTS, model: 'tiny-bert', top: 2 }));
    expect(after.status).toBe(200);
  });
});
