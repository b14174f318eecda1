import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, limitsFromEnv } from '../../src/server/context.js';
import { DEMO_TEXTS, json, problemOf, type TestServer, testServer } from '../helpers/server.js';

let server: TestServer | undefined;

afterEach(async () => {
  await server?.context.close(0);
  server = undefined;
});

function uploadForm(fields: Record<string, string>): FormData {
  const form = new FormData();
  form.set('file', new Blob(['text,label\ngreat phone,good\nawful price,bad\nlove it,good\nworst buy,bad\n']), 'target.csv');
  for (const [key, value] of Object.entries(fields)) form.set(key, value);
  return form;
}

/** What the server keeps of requests: stored uploads waiting for a job, and the jobs' input directories. */
function kept(server: TestServer): { uploads: string[]; jobs: string[] } {
  const jobs = join(server.context.dataDir, 'jobs');
  const list = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);
  return { uploads: list(join(jobs, '.uploads')), jobs: list(jobs).filter((name) => name !== '.uploads') };
}

describe('the limits', () => {
  it('are set by environment variables: queued jobs per kind, and minutes per job', () => {
    const env = {
      ESMSELECT_MAX_QUEUED_RANKINGS: '5',
      ESMSELECT_MAX_QUEUED_FINETUNES: '0',
      ESMSELECT_MAX_RANKING_MINUTES: '0.5',
      ESMSELECT_MAX_FINETUNE_MINUTES: '90',
    };
    expect(limitsFromEnv(env)).toEqual({ ...DEFAULT_LIMITS, queuedRankings: 5, queuedFinetunes: 0, rankingMs: 30_000, finetuneMs: 5_400_000 });
    expect(() => limitsFromEnv({ ESMSELECT_MAX_FINETUNE_MINUTES: 'forever' })).toThrow(/ESMSELECT_MAX_FINETUNE_MINUTES=forever/);
  });
});

describe('the ranking queue', () => {
  it('refuses a ranking that would wait in a full queue: 503 with Retry-After, before anything is stored', async () => {
    server = await testServer({ startJobs: false, limits: { queuedRankings: 2, syncRows: 4 } });
    const { app } = server;
    for (let i = 0; i < 2; i++) expect((await app.request('/v1/rankings?async=true', json({ ...DEMO_TEXTS, model: 'tiny-bert' }))).status).toBe(202);
    const before = kept(server);
    expect(before.jobs).toHaveLength(2);

    const refusals: [string, RequestInit][] = [
      ['asked to be a job', json({ ...DEMO_TEXTS, model: 'tiny-bert' })],
      ['an upload asked to be a job', { method: 'POST', body: uploadForm({ text_column: 'text', label_column: 'label', model: 'tiny-bert' }) }],
      ['over the synchronous row limit', json({ ...DEMO_TEXTS, model: 'tiny-bert' })],
    ];
    for (const [name, init] of refusals) {
      const response = await app.request(name === 'over the synchronous row limit' ? '/v1/rankings' : '/v1/rankings?async=true', init);
      expect(response.status, name).toBe(503);
      expect(Number(response.headers.get('retry-after')), name).toBeGreaterThanOrEqual(1);
      const problem = await problemOf(response);
      expect(problem.type, name).toBe('urn:esmselect:problem:unavailable');
      expect(problem.detail, name).toContain('ESMSELECT_MAX_QUEUED_RANKINGS');
    }
    expect(kept(server)).toEqual(before);

    // A small ranking does not wait in the queue: it still runs at once.
    const small = await app.request('/v1/rankings', json({ texts: DEMO_TEXTS.texts.slice(0, 4), labels: DEMO_TEXTS.labels.slice(0, 4), model: 'tiny-bert' }));
    expect(small.status).toBe(200);
    // A cancelled job leaves room for another.
    const [queued] = before.jobs;
    expect((await app.request(`/v1/rankings/${queued}`, { method: 'DELETE' })).status).toBe(200);
    expect((await app.request('/v1/rankings?async=true', json({ ...DEMO_TEXTS, model: 'tiny-bert' }))).status).toBe(202);
  });
});

describe('ranking jobs', () => {
  it('are stopped past the time limit: the job fails with a time-limit problem and its input goes', async () => {
    server = await testServer({ limits: { rankingMs: 200 } });
    const { app, context } = server;
    // A text of some 2 MB takes seconds to tokenise.
    const long = Array.from({ length: 300_000 }, (_, i) => DEMO_TEXTS.texts[i % 6]).join(' ');
    const response = await app.request('/v1/rankings', json({ texts: [long, ...DEMO_TEXTS.texts.slice(1)], labels: DEMO_TEXTS.labels, model: 'tiny-bert' }));
    expect(response.status).toBe(422);
    const problem = await problemOf(response);
    expect(problem.type).toBe('urn:esmselect:problem:time-limit');
    expect(problem.detail).toMatch(/ranking job ran past the server's limit of 0\.2 s \(ESMSELECT_MAX_RANKING_MINUTES\)/);
    const [job] = context.registry.db.prepare("SELECT id, state FROM jobs WHERE kind = 'ranking'").all() as { id: string; state: string }[];
    expect(job.state).toBe('failed');
    expect(((await (await app.request(`/v1/rankings/${job.id}`)).json()) as Record<string, any>).error.type).toBe('urn:esmselect:problem:time-limit');
    expect(existsSync(context.jobs.inputDir(job.id))).toBe(false);
  });
});

/**
 * A multipart body written out directly (FormData takes seconds to serialise 200,000 parts):
 * `fields` in order, a value of [content, name] being a file.
 */
function multipart(fields: [string, string | [string, string]][]): RequestInit {
  const boundary = 'esmselect-test-boundary';
  const parts = fields.map(([name, value]) =>
    typeof value === 'string'
      ? `--${boundary}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`
      : `--${boundary}\r\ncontent-disposition: form-data; name="${name}"; filename="${value[1]}"\r\ncontent-type: text/csv\r\n\r\n${value[0]}\r\n`,
  );
  return { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body: `${parts.join('')}--${boundary}--\r\n` };
}

describe('repeated form fields', () => {
  it('refuse text_column repeated 200,000 times, naming it', { timeout: 180_000 }, async () => {
    server = await testServer({ startJobs: false });
    const { app } = server;
    const file: [string, string] = ['text,label\ngreat phone,good\nawful price,bad\n', 'target.csv'];
    const columns = Array.from({ length: 200_000 }, (): [string, string] => ['text_column', 'text']);
    const common: [string, string][] = [
      ['label_column', 'label'],
      ['model', 'tiny-bert'],
    ];
    const requests: [string, RequestInit][] = [
      ['/v1/rankings', multipart([['file', file], ...columns, ...common])],
      ['/v1/finetunes', multipart([['target_file', file], ['source_id', '1'], ...columns, ...common])],
    ];
    for (const [path, init] of requests) {
      const response = await app.request(path, init);
      expect(response.status, path).toBe(422);
      const problem = await problemOf(response);
      expect(problem.field, path).toBe('text_column');
      expect(problem.detail, path).toContain('<=32');
    }
    expect(kept(server)).toEqual({ uploads: [], jobs: [] });
  });
});
