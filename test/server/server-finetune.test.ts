import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EmbeddingSpaceMap } from '../../src/esm/esm.js';
import type { TextTask } from '../../src/finetune/data.js';
import { registerEsm } from '../../src/registry/esms.js';
import { startServer } from '../../src/server/serve.js';
import { registerDataset } from '../../src/store/datasets.js';
import { esmConfig } from '../helpers/pool.js';
import { randomGenerator } from '../helpers/random.js';
import { DEMO_TEXTS, json, problemOf, readEvents, type TestServer, testServer } from '../helpers/server.js';
import { keywordTask, SENTIMENT, TOPIC } from '../helpers/synthetic.js';

// Offline, as every test is: a source task without a registered dataset whose ESM names a Hub
// dataset would otherwise be read from the Hub (test/server/server-hub-data.test.ts does that against the stand-in).
process.env.HF_HUB_OFFLINE = '1';

const SOURCE = keywordTask('synthetic/topic', TOPIC, 60, 1);
const TARGET = keywordTask('synthetic/sentiment', SENTIMENT, 48, 2);
/** Two short epochs per stage: the tests check the service, the runner's own tests its learning. */
const FAST = { epochs: 2, batchSize: 16, learningRate: 3e-3, heldOutFraction: 0.25 };

function csv(task: TextTask): string {
  return `text,label\n${task.texts.map((text, i) => `${text},${String(task.labels[i])}`).join('\n')}\n`;
}

/** A fine-tune request: the target uploaded, FAST settings, `fields` added (a [content, name] pair is a file, undefined leaves one out). */
function finetuneForm(fields: Record<string, string | readonly [string, string] | undefined>): FormData {
  const form = new FormData();
  const all: Record<string, string | readonly [string, string] | undefined> = {
    target_file: [csv(TARGET), 'sentiment.csv'],
    text_column: 'text',
    label_column: 'label',
    intermediate_settings: JSON.stringify(FAST),
    target_settings: JSON.stringify(FAST),
    ...fields,
  };
  for (const [key, value] of Object.entries(all)) {
    if (typeof value === 'string') form.set(key, value);
    else if (value) form.set(key, new Blob([value[0]]), value[1]);
  }
  return form;
}

const UPLOADED_SOURCE = { source_file: [csv(SOURCE), 'topic.csv'], source_task_id: 'synthetic/topic', model: 'tiny-bert' } as const;

function post(form: FormData): RequestInit {
  return { method: 'POST', body: form };
}

/** The fine-tune processes this process started that are still running (Linux: /proc). */
function finetuneProcesses(): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        // stat: "pid (comm) state ppid ...", comm may hold spaces.
        const ppid = Number(
          readFileSync(`/proc/${pid}/stat`, 'utf8')
            .replace(/^.*\) /s, '')
            .split(' ')[1],
        );
        return ppid === process.pid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('finetune-process');
      } catch {
        return false;
      }
    })
    .map(Number);
}

const ended = (job: Record<string, any>) => ['succeeded', 'failed', 'cancelled'].includes(job.status);

async function waitFor(app: TestServer['app'], path: string, done: (job: Record<string, any>) => boolean): Promise<Record<string, any>> {
  for (let tries = 0; tries < 2400; tries++) {
    const job = (await (await app.request(path)).json()) as Record<string, any>;
    if (done(job)) return job;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${path} never got there`);
}

/** An ESM for tiny-bert's 32-dimensional embeddings, named after a source task. */
function tinyBertEsm(taskId: string, seed: number): EmbeddingSpaceMap {
  const rng = randomGenerator(seed);
  const weight = rng.normals(32 * 32, 0.05);
  for (let i = 0; i < 32; i++) weight[i * 32 + i] += 1;
  return new EmbeddingSpaceMap(esmConfig(taskId, 32, { base_model_name: 'tiny-bert' }), weight, rng.normals(32, 0.02));
}

/**
 * A registry whose source tasks link to datasets as the one-click path needs: `sources/topic.csv`
 * is a registered dataset file inside the data dir and an ESM's task; `sources/nowhere.csv` is an
 * ESM's task without a dataset; `outside.csv` is registered but lies outside the data dir.
 */
async function registrySources(server: TestServer): Promise<{ topic: number; nowhere: number; outside: number }> {
  const { registry, dataDir } = server.context;
  mkdirSync(join(dataDir, 'sources'), { recursive: true });
  writeFileSync(join(dataDir, 'sources', 'topic.csv'), csv(SOURCE));
  // The ESMs name the split (esmConfig's task_split is train): the dataset must be that slice.
  registerDataset(registry, { name: 'sources/topic.csv', split: 'train', text_column: 'text', label_column: 'label', task_type: 'classification' });
  const elsewhere = join(mkdtempSync(join(tmpdir(), 'esmselect-elsewhere-')), 'outside.csv');
  writeFileSync(elsewhere, csv(SOURCE));
  registerDataset(registry, { name: elsewhere, split: 'train', text_column: 'text', label_column: 'label' });
  const register = async (taskId: string, seed: number) => (await registerEsm(registry, tinyBertEsm(taskId, seed), { origin: 'test' })).record.id;
  return { topic: await register('sources/topic.csv', 1), nowhere: await register('sources/nowhere.csv', 2), outside: await register(elsewhere, 3) };
}

let server: TestServer | undefined;
afterEach(async () => {
  await server?.context.close(0);
  server = undefined;
});

describe('POST /v1/finetunes', () => {
  it('runs a two-stage fine-tune of uploaded source and target over HTTP, with SSE progress, and registers its ESM', async () => {
    const running = await startServer({ dataDir: mkdtempSync(join(tmpdir(), 'esmselect-finetune-http-')), port: 0, demo: false, log: () => {} });
    try {
      const form = finetuneForm({
        ...UPLOADED_SOURCE,
        intermediate_settings: JSON.stringify({ ...FAST, mask: 'gmt' }),
        target_settings: JSON.stringify({ ...FAST, mask: 'dps', seed: 3 }),
      });
      const created = await fetch(`${running.url}/v1/finetunes`, post(form));
      expect(created.status).toBe(202);
      const job = (await created.json()) as Record<string, any>;
      expect(created.headers.get('location')).toBe(`/v1/finetunes/${job.id}`);
      expect(job.request).toMatchObject({ model: 'tiny-bert', source: { task_id: 'synthetic/topic', rows: 60 }, target: { task_id: 'sentiment', rows: 48 } });
      expect(job.request.intermediate_settings).toMatchObject({ mask: 'gmt', epochs: 2, patience: 2 });
      expect(job.request.target_settings).toMatchObject({ mask: 'dps', seed: 3 });

      const events = await readEvents(await fetch(`${running.url}${job.links.events}`));
      const last = events.at(-1)!;
      expect(last.event).toBe('succeeded');
      const named = (name: string) => events.filter((e) => e.event === name).map((e) => e.data);
      expect(named('stage').map((s) => `${s.stage}:${s.status}`)).toEqual([
        'intermediate:started',
        'intermediate:completed',
        'esm:started',
        'esm:completed',
        'target:started',
        'target:completed',
      ]);
      const epochs = named('epoch');
      expect(epochs.map((e) => `${e.stage}:${e.epoch}/${e.epochs}`)).toEqual(['intermediate:1/2', 'intermediate:2/2', 'target:1/2', 'target:2/2']);
      expect(epochs[0].metrics).toHaveProperty('macroF1');
      const progress = named('progress');
      const training = progress.find((p) => p.step !== undefined);
      expect(training).toMatchObject({
        stage: expect.stringMatching(/^(intermediate|target)$/),
        epoch: expect.any(Number),
        epochs: 2,
        total_steps: expect.any(Number),
        loss: expect.any(Number),
      });
      const fractions = progress.map((p) => p.fraction as number);
      expect(fractions).toEqual([...fractions].sort((a, b) => a - b));

      const { result } = last.data;
      expect(last.data.epochs).toEqual(epochs);
      expect(result.target.epochs.map((e: { metrics: unknown }) => e.metrics)).toEqual(epochs.slice(2).map((e) => e.metrics));
      expect(result.intermediate.mask).toMatch(/^gmt/);
      expect(result.target.mask).toMatch(/^dps/);
      expect(result.checkpoints).toEqual({
        intermediate: `finetunes/${job.id}/intermediate`,
        target: `finetunes/${job.id}/target`,
        esm: `finetunes/${job.id}/esm`,
      });
      for (const folder of [result.checkpoints.intermediate, result.checkpoints.target])
        expect(existsSync(join(running.context.dataDir, folder, 'model.safetensors'))).toBe(true);
      expect(JSON.stringify(last.data)).not.toContain(running.context.dataDir);
      // The ESM of the intermediate fine-tune joined the pool, announced by its own event.
      expect(named('esm')).toEqual([{ source_id: result.esm.source_id, source: `registry#${result.esm.source_id}` }]);
      const esm = (await (await fetch(`${running.url}/v1/sources/${result.esm.source_id}`)).json()) as Record<string, any>;
      expect(esm).toMatchObject({ task_id: 'synthetic/topic', origin: 'finetuned', base_model_name: 'tiny-bert', num_examples: 60 });
      // The uploads went with the job; GET says what the stream said.
      expect(existsSync(running.context.jobs.inputDir(job.id))).toBe(false);
      expect(((await (await fetch(`${running.url}/v1/finetunes/${job.id}`)).json()) as Record<string, any>).result).toEqual(result);
    } finally {
      await running.close();
    }
  });

  it('answers every bad request with a problem naming the field, before any job exists', async () => {
    server = await testServer({ startJobs: false, limits: { bodyBytes: 64 * 1024 } });
    const { app } = server;
    const ids = await registrySources(server);
    const ranking = (await (
      await app.request(
        '/v1/rankings',
        json({
          embeddings: Array.from({ length: 6 }, (_, i) => Array.from({ length: 32 }, (_, j) => Math.sin(i * 32 + j))),
          labels: [0, 1, 0, 1, 0, 1],
          top: 3,
        }),
      )
    ).json()) as Record<string, any>;
    const queued = (await (await app.request('/v1/rankings?async=true', json({ ...DEMO_TEXTS, model: 'tiny-bert' }))).json()) as Record<string, any>;
    const cases: [string, FormData, number, string][] = [
      ['no source', finetuneForm({ model: 'tiny-bert' }), 422, 'source_file'],
      ['two sources', finetuneForm({ ...UPLOADED_SOURCE, source_id: String(ids.topic) }), 422, 'source_id'],
      ['unknown source id', finetuneForm({ source_id: '999' }), 422, 'source_id'],
      ['source id not a number', finetuneForm({ source_id: 'topic' }), 422, 'source_id'],
      ['registered source without a dataset', finetuneForm({ source_id: String(ids.nowhere) }), 409, 'source_id'],
      ['registered dataset outside the data dir', finetuneForm({ source_id: String(ids.outside) }), 409, 'source_id'],
      ['columns for a registered source', finetuneForm({ source_id: String(ids.topic), source_text_column: 'body' }), 422, 'source_text_column'],
      ['unknown ranking id', finetuneForm({ ranking_id: 'no-such-ranking', rank: '1' }), 422, 'ranking_id'],
      ['rank without ranking id', finetuneForm({ rank: '1' }), 422, 'ranking_id'],
      ['ranking id without rank', finetuneForm({ ranking_id: ranking.id }), 422, 'rank'],
      ['rank out of range', finetuneForm({ ranking_id: ranking.id, rank: '4' }), 422, 'rank'],
      ['rank zero', finetuneForm({ ranking_id: ranking.id, rank: '0' }), 422, 'rank'],
      ['a ranking not finished', finetuneForm({ ranking_id: queued.id, rank: '1' }), 409, 'ranking_id'],
      ['a model the ranked ESM is not for', finetuneForm({ source_id: String(ids.topic), model: 'tiny-distilbert' }), 422, 'model'],
      ['no model for an uploaded source', finetuneForm({ ...UPLOADED_SOURCE, model: undefined }), 422, 'model'],
      ['unknown model', finetuneForm({ ...UPLOADED_SOURCE, model: 'no-such-model' }), 422, 'model'],
      ['model path traversal', finetuneForm({ ...UPLOADED_SOURCE, model: '../models' }), 422, 'model'],
      ['bad mask', finetuneForm({ ...UPLOADED_SOURCE, intermediate_settings: '{"mask": "magic"}' }), 422, 'intermediate_settings.mask'],
      ['bad setting value', finetuneForm({ ...UPLOADED_SOURCE, target_settings: '{"epochs": 0}' }), 422, 'target_settings.epochs'],
      ['unknown setting', finetuneForm({ ...UPLOADED_SOURCE, target_settings: '{"epoch": 2}' }), 422, 'target_settings'],
      // Epochs, patience, batches and steps are bounded: a billion epochs would hold the queue for ever.
      ['a billion epochs', finetuneForm({ ...UPLOADED_SOURCE, intermediate_settings: '{"epochs": 1000000000}' }), 422, 'intermediate_settings.epochs'],
      ['epochs past the maximum', finetuneForm({ ...UPLOADED_SOURCE, target_settings: '{"epochs": 101}' }), 422, 'target_settings.epochs'],
      [
        'patience past the maximum',
        finetuneForm({ ...UPLOADED_SOURCE, intermediate_settings: '{"patience": 1000000}' }),
        422,
        'intermediate_settings.patience',
      ],
      ['batch size past the maximum', finetuneForm({ ...UPLOADED_SOURCE, target_settings: '{"batchSize": 100000}' }), 422, 'target_settings.batchSize'],
      [
        'accumulation steps past the maximum',
        finetuneForm({ ...UPLOADED_SOURCE, intermediate_settings: '{"accumulationSteps": 100000}' }),
        422,
        'intermediate_settings.accumulationSteps',
      ],
      ['settings not JSON', finetuneForm({ ...UPLOADED_SOURCE, intermediate_settings: 'epochs=2' }), 422, 'intermediate_settings'],
      ['missing target file', finetuneForm({ ...UPLOADED_SOURCE, target_file: undefined }), 422, 'target_file'],
      ['target not a file', finetuneForm({ ...UPLOADED_SOURCE, target_file: 'text,label' }), 422, 'target_file'],
      ['missing target column', finetuneForm({ ...UPLOADED_SOURCE, text_column: 'body', source_text_column: 'text' }), 422, 'target_file'],
      ['missing source column', finetuneForm({ ...UPLOADED_SOURCE, source_label_column: 'topic' }), 422, 'source_file'],
      ['unknown target format', finetuneForm({ ...UPLOADED_SOURCE, target_file: [csv(TARGET), 'target.xlsx'] }), 422, 'format'],
      ['one class in the target', finetuneForm({ ...UPLOADED_SOURCE, target_file: ['text,label\na b,1\nc d,1\n', 't.csv'] }), 422, 'target_file'],
    ];
    for (const [name, form, status, field] of cases) {
      const response = await app.request('/v1/finetunes', post(form));
      expect(response.status, name).toBe(status);
      const problem = await problemOf(response);
      expect(problem.field, name).toBe(field);
      expect(problem.type, name).toMatch(/^urn:esmselect:problem:/);
      expect(problem.detail, name).not.toContain(server.context.dataDir);
    }
    const wrongType = await app.request('/v1/finetunes', json({ source_id: ids.topic }));
    expect(wrongType.status).toBe(415);
    expect((await problemOf(wrongType)).field).toBe('content-type');
    const oversized = await app.request('/v1/finetunes', post(finetuneForm({ ...UPLOADED_SOURCE, source_file: [csv(SOURCE).repeat(200), 'big.csv'] })));
    expect(oversized.status).toBe(413);
    expect((await problemOf(oversized)).field).toBe('body');

    for (const path of ['/v1/finetunes/no-such-job', `/v1/finetunes/${ranking.id}`, '/v1/finetunes/no-such-job/events']) {
      const missing = await app.request(path);
      expect(missing.status, path).toBe(404);
      expect((await problemOf(missing)).field, path).toBe('id');
    }
    // Nothing was kept of the refused requests.
    expect(server.context.registry.db.prepare("SELECT count(*) FROM jobs WHERE kind = 'finetune'").pluck().get()).toBe(0);
    expect(readdirSync(join(server.context.dataDir, 'jobs', '.uploads'))).toEqual([]);
  });

  it('fine-tunes with a ranked source in one click: each ranked task carries what to POST, resolved to its registered dataset', async () => {
    server = await testServer({ demo: false, startJobs: false });
    const { app } = server;
    const ids = await registrySources(server);
    const embeddings = Array.from({ length: 8 }, (_, i) => Array.from({ length: 32 }, (_, j) => Math.cos(i * 7 + j)));
    const ranking = (await (await app.request('/v1/rankings', json({ embeddings, labels: [0, 1, 0, 1, 0, 1, 0, 1] }))).json()) as Record<string, any>;
    const ranked = ranking.result.ranking as { rank: number; task_id: string; finetune: { ranking_id: string; rank: number } }[];
    expect(ranked.map((t) => t.finetune)).toEqual(ranked.map((t) => ({ ranking_id: ranking.id, rank: t.rank })));
    const topic = ranked.find((t) => t.task_id === 'sources/topic.csv')!;
    const nowhere = ranked.find((t) => t.task_id === 'sources/nowhere.csv')!;

    const fields = (link: { ranking_id: string; rank: number }) => ({ ranking_id: link.ranking_id, rank: String(link.rank) });
    const created = await app.request('/v1/finetunes', post(finetuneForm(fields(topic.finetune))));
    expect(created.status).toBe(202);
    const job = (await created.json()) as Record<string, any>;
    expect(job).toMatchObject({ status: 'queued', progress: { stage: 'queued', fraction: 0 }, epochs: [] });
    expect(job.request).toMatchObject({
      model: 'tiny-bert',
      source: { task_id: 'sources/topic.csv', rows: 60, ranking_id: ranking.id, rank: topic.rank, dataset_id: expect.any(Number) },
    });
    const bySource = (await (await app.request('/v1/finetunes', post(finetuneForm({ source_id: String(ids.topic) })))).json()) as Record<string, any>;
    expect(bySource.request.source).toMatchObject({ task_id: 'sources/topic.csv', source_id: ids.topic, dataset_id: job.request.source.dataset_id });

    const missing = await app.request('/v1/finetunes', post(finetuneForm(fields(nowhere.finetune))));
    expect(missing.status).toBe(409);
    const problem = await problemOf(missing);
    expect(problem.field).toBe('rank');
    expect(problem.detail).toContain('sources/nowhere.csv');
    expect(problem.detail).toContain('HF_HUB_OFFLINE is set');

    // The queued job can be cancelled, once.
    const cancelled = await app.request(`/v1/finetunes/${job.id}`, { method: 'DELETE' });
    expect(((await cancelled.json()) as Record<string, any>).status).toBe('cancelled');
    const again = await app.request(`/v1/finetunes/${job.id}`, { method: 'DELETE' });
    expect(again.status).toBe(409);
    expect((await problemOf(again)).field).toBe('id');
  });
});

describe('fine-tune jobs', () => {
  it('run beside synchronous rankings, which are answered while a fine-tune trains, and cancel at once', async () => {
    server = await testServer();
    const { app, context } = server;
    const long = JSON.stringify({ ...FAST, epochs: 50, patience: 0 });
    const job = (await (
      await app.request('/v1/finetunes', post(finetuneForm({ ...UPLOADED_SOURCE, intermediate_settings: long, target_settings: long })))
    ).json()) as Record<string, any>;
    const training = await waitFor(app, job.links.self, (j) => j.progress.step !== undefined || ended(j));
    expect(training).toMatchObject({ status: 'running', progress: { stage: 'intermediate', epochs: 50 } });

    const ranking = await app.request('/v1/rankings', json({ ...DEMO_TEXTS, model: 'tiny-bert', top: 3 }));
    expect(ranking.status).toBe(200);
    expect(((await ranking.json()) as Record<string, any>).status).toBe('succeeded');
    const still = (await (await app.request(job.links.self)).json()) as Record<string, any>;
    expect(still.status).toBe('running');
    expect(still.progress.fraction).toBeLessThan(0.9);

    const cancelled = await app.request(job.links.self, { method: 'DELETE' });
    expect(cancelled.status).toBe(200);
    expect(((await cancelled.json()) as Record<string, any>).status).toBe('cancelled');
    expect(context.jobs.running).toBe(0);
    expect(existsSync(join(context.dataDir, 'finetunes', job.id))).toBe(false);
    const ready = (await (await app.request('/readyz')).json()) as Record<string, any>;
    expect(ready.finetunes).toMatchObject({ cancelled: 1, running: 0 });
    const metrics = await (await app.request('/metrics')).text();
    expect(metrics).toContain('esmselect_finetune_jobs{state="cancelled"} 1');
  });

  it('fail with the problem the fine-tune met, naming its field, and keep the folder for a look', async () => {
    server = await testServer({ demo: false });
    const { app, context } = server;
    // One regression example: readable, but holding one out for evaluation leaves none to train on.
    const form = finetuneForm({
      ...UPLOADED_SOURCE,
      source_file: ['text,score\ngood great day,4.5\n', 'one.csv'],
      source_label_column: 'score',
      source_task_type: 'regression',
    });
    const job = (await (await app.request('/v1/finetunes', post(form))).json()) as Record<string, any>;
    const failed = await waitFor(app, job.links.self, ended);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatchObject({ status: 422, field: 'source', detail: expect.stringContaining('leave none to train on') });
    expect(JSON.stringify(failed)).not.toContain(context.dataDir);
    // The state is committed before the clean-up, so a crash in between never loses it; the upload goes just after.
    await vi.waitFor(() => expect(existsSync(context.jobs.inputDir(job.id))).toBe(false), { timeout: 5000 });
    expect(existsSync(join(context.dataDir, 'finetunes', job.id, 'job.json'))).toBe(true);
  });

  it('wait in a bounded queue: past it a request is refused (503, Retry-After) before its files are stored', async () => {
    server = await testServer({ demo: false, startJobs: false, limits: { queuedFinetunes: 2 } });
    const { app, context } = server;
    const jobs = [];
    for (let i = 0; i < 2; i++) {
      const created = await app.request('/v1/finetunes', post(finetuneForm(UPLOADED_SOURCE)));
      expect(created.status).toBe(202);
      jobs.push((await created.json()) as Record<string, any>);
    }
    const full = await app.request('/v1/finetunes', post(finetuneForm(UPLOADED_SOURCE)));
    expect(full.status).toBe(503);
    expect(Number(full.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const problem = await problemOf(full);
    expect(problem.type).toBe('urn:esmselect:problem:unavailable');
    expect(problem.detail).toContain('ESMSELECT_MAX_QUEUED_FINETUNES');
    // Nothing of it on disk: no stored upload, no job.
    expect(readdirSync(join(context.dataDir, 'jobs', '.uploads'))).toEqual([]);
    expect(readdirSync(join(context.dataDir, 'jobs')).sort()).toEqual(['.uploads', ...jobs.map((j) => j.id)].sort());
    expect(context.registry.db.prepare("SELECT count(*) FROM jobs WHERE kind = 'finetune'").pluck().get()).toBe(2);
    // A cancelled job makes room.
    expect((await app.request(jobs[0].links.self, { method: 'DELETE' })).status).toBe(200);
    expect((await app.request('/v1/finetunes', post(finetuneForm(UPLOADED_SOURCE)))).status).toBe(202);
  });

  it('stop at the time limit: the process is killed, the job fails with a time-limit problem, its uploads go', async () => {
    server = await testServer({ demo: false, limits: { finetuneMs: 3000 } });
    const { app, context } = server;
    const long = JSON.stringify({ ...FAST, epochs: 100, patience: 0 });
    const job = (await (
      await app.request('/v1/finetunes', post(finetuneForm({ ...UPLOADED_SOURCE, intermediate_settings: long, target_settings: long })))
    ).json()) as Record<string, any>;
    const failed = await waitFor(app, job.links.self, ended);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatchObject({ type: 'urn:esmselect:problem:time-limit', status: 422 });
    expect(failed.error.detail).toMatch(/fine-tune ran past the server's limit of 3 s \(ESMSELECT_MAX_FINETUNE_MINUTES\)/);
    expect(context.jobs.running).toBe(0);
    expect(finetuneProcesses()).toEqual([]);
    await vi.waitFor(() => expect(existsSync(context.jobs.inputDir(job.id))).toBe(false), { timeout: 5000 });
  });

  it('need the bearer token when one is set, before the upload is read', async () => {
    server = await testServer({ demo: false, startJobs: false, token: 'fine-tune-token' });
    const { app } = server;
    const refused = await app.request('/v1/finetunes', post(finetuneForm(UPLOADED_SOURCE)));
    expect(refused.status).toBe(401);
    expect((await problemOf(refused)).field).toBe('authorization');
    expect((await app.request('/v1/finetunes/x', { method: 'DELETE' })).status).toBe(401);
    const accepted = await app.request('/v1/finetunes', { ...post(finetuneForm(UPLOADED_SOURCE)), headers: { authorization: 'Bearer fine-tune-token' } });
    expect(accepted.status).toBe(202);
  });

  it('resume after a restart from the last completed stage, with a registered source', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'esmselect-finetune-restart-'));
    const first = await testServer({ dataDir, demo: false });
    const ids = await registrySources(first);
    // A target stage long enough to be caught running.
    const form = finetuneForm({ source_id: String(ids.topic), target_settings: JSON.stringify({ ...FAST, epochs: 12, patience: 0 }) });
    const job = (await (await first.app.request('/v1/finetunes', post(form))).json()) as Record<string, any>;
    const inTarget = await waitFor(first.app, job.links.self, (j) => j.progress.stage === 'target' || ended(j));
    expect(inTarget.status).toBe('running');
    expect(inTarget.epochs.filter((e: { stage: string }) => e.stage === 'intermediate')).toHaveLength(2);
    const checkpoint = join(dataDir, 'finetunes', job.id, 'intermediate', 'model.safetensors');
    const intermediateWeights = readFileSync(checkpoint);
    // As a process killed mid-job leaves it: its fine-tune stopped, the job running in the registry.
    await first.context.jobs.close(0);
    first.context.registry.db.prepare("UPDATE jobs SET state = 'running' WHERE id = ?").run(job.id);
    await first.context.close(0);

    server = await testServer({ dataDir, demo: false });
    const done = await waitFor(server.app, job.links.self, ended);
    expect(done.status).toBe('succeeded');
    expect(done.restarts).toBe(1);
    expect(done.result.restored).toEqual(['intermediate', 'esm']);
    expect(done.epochs.map((e: { stage: string; epoch: number }) => `${e.stage}:${e.epoch}`)).toEqual([
      'intermediate:1',
      'intermediate:2',
      ...Array.from({ length: 12 }, (_, i) => `target:${i + 1}`),
    ]);
    expect(readFileSync(checkpoint)).toEqual(intermediateWeights);
    // The ESM registered by the first run is the one the result names; no second was added.
    const finetuned = server.context.registry.db.prepare("SELECT id, task_id FROM esms WHERE origin = 'finetuned'").all();
    expect(finetuned).toEqual([{ id: done.result.esm.source_id, task_id: 'sources/topic.csv' }]);
  });
});
