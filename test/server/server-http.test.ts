import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startServer } from '../../src/server/serve.js';
import { DEMO_TEXTS, json, readEvents, testServer } from '../helpers/server.js';

describe('the real server', () => {
  it('runs a ranking job to completion over HTTP on a loopback port, with SSE progress', async () => {
    const server = await startServer({ dataDir: mkdtempSync(join(tmpdir(), 'esmselect-http-')), port: 0, log: () => {} });
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const texts = Array.from({ length: 300 }, (_, i) => `${DEMO_TEXTS.texts[i % 6]} number ${i}`);
      const labels = texts.map((_, i) => DEMO_TEXTS.labels[i % 6]);
      const created = await fetch(`${server.url}/v1/rankings`, { ...json({ texts, labels, model: 'wordnet-bert', top: 4 }, { prefer: 'respond-async' }) });
      expect(created.status).toBe(202);
      const job = (await created.json()) as { id: string; links: { events: string } };
      const stream = await fetch(`${server.url}${job.links.events}`);
      expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const events = await readEvents(stream);
      const last = events[events.length - 1];
      expect(last.event).toBe('succeeded');
      expect(last.data.result.ranking).toHaveLength(4);
      const progress = events.filter((e) => e.event === 'progress').map((e) => e.data.fraction as number);
      expect(progress.length).toBeGreaterThan(0);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
      expect(events.every((e) => e.event === 'progress' || e === last)).toBe(true);
      // The job's resource says the same, and a stream opened after the end gives the end at once.
      const done = (await (await fetch(`${server.url}/v1/rankings/${job.id}`)).json()) as Record<string, any>;
      expect(done.result).toEqual(last.data.result);
      const replay = await readEvents(await fetch(`${server.url}${job.links.events}`));
      expect(replay.map((e) => e.event)).toEqual(['succeeded']);
    } finally {
      await server.close();
    }
  });

  it('keeps jobs over a restart: queued ones resume, a running one is marked and run again', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'esmselect-restart-'));
    const first = await testServer({ dataDir, startJobs: false });
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const response = await first.app.request('/v1/rankings?async=true', json({ ...DEMO_TEXTS, model: 'tiny-bert', top: 2 }));
      ids.push(((await response.json()) as { id: string }).id);
    }
    // As a process killed mid-job leaves it: running, in the registry.
    first.context.registry.db.prepare("UPDATE jobs SET state = 'running', started_at = 'then' WHERE id = ?").run(ids[0]);
    await first.context.close(0);

    const second = await testServer({ dataDir });
    try {
      expect(second.logs.join('\n')).toContain(ids[0]);
      for (const [i, id] of ids.entries()) {
        let job: Record<string, any> = {};
        for (let tries = 0; tries < 400 && job.status !== 'succeeded'; tries++) {
          job = (await (await second.app.request(`/v1/rankings/${id}`)).json()) as Record<string, any>;
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        expect(job.status).toBe('succeeded');
        expect(job.restarts).toBe(i === 0 ? 1 : 0);
        expect(job.result.ranking).toHaveLength(2);
      }
    } finally {
      await second.context.close(0);
    }
  });

  it('checkpoints a running job on shutdown: it goes back to the queue, its input kept, for the next start', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'esmselect-shutdown-'));
    const server = await startServer({ dataDir, port: 0, log: () => {} });
    // Long enough to be caught running: a few thousand texts to embed.
    const texts = Array.from({ length: 4000 }, (_, i) => `${DEMO_TEXTS.texts[i % 6]} review ${i} of ${i % 7}`);
    const labels = texts.map((_, i) => DEMO_TEXTS.labels[i % 6]);
    const job = (await (await fetch(`${server.url}/v1/rankings?async=true`, json({ texts, labels, model: 'wordnet-bert' }))).json()) as { id: string };
    for (let tries = 0; tries < 400; tries++) {
      if ((server.context.registry.db.prepare('SELECT state FROM jobs WHERE id = ?').pluck().get(job.id) as string) === 'running') break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const context = server.context;
    expect(context.registry.db.prepare('SELECT state FROM jobs WHERE id = ?').pluck().get(job.id)).toBe('running');
    // No grace: the running job is stopped at once and put back.
    await context.jobs.close(0);
    await server.close();
    const reopened = await testServer({ dataDir, startJobs: false, demo: false });
    const row = reopened.context.registry.db.prepare('SELECT state, restarts FROM jobs WHERE id = ?').get(job.id);
    expect(row).toEqual({ state: 'queued', restarts: 0 });
    expect(existsSync(join(reopened.context.jobs.inputDir(job.id), 'input.json'))).toBe(true);
    await reopened.context.close(0);
  });

  it('reports on start-up, in one line, registry rows whose file is gone and files no row points at', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'esmselect-startup-'));
    const healthy: string[] = [];
    const first = await startServer({ dataDir, port: 0, log: (line) => healthy.push(line) });
    const weights = first.context.registry.db.prepare('SELECT weights_path FROM esms ORDER BY id').pluck().all() as string[];
    await first.close();
    expect(healthy.some((line) => line.startsWith('registry check'))).toBe(false);

    rmSync(join(dataDir, weights[0]));
    writeFileSync(join(dataDir, 'esms', 'stray.safetensors'), 'not registered');
    const logs: string[] = [];
    const second = await startServer({ dataDir, port: 0, log: (line) => logs.push(line) });
    await second.close();
    expect(logs.filter((line) => line.startsWith('registry check'))).toEqual([
      'registry check: entries whose file is missing: 1 (refused until deleted or re-imported), orphan weights files: 1; run `esmselect doctor` for details and `esmselect doctor --cleanup` to remove left-over files',
    ]);
  });
});
