import { mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { embedTexts } from '../../src/embed/embed-dataset.js';
import { esmConfigJson, esmWeightsFile } from '../../src/esm/hfselect.js';
import { prepareTargetFor, rankPool } from '../../src/rank/ranking.js';
import { selectScorer } from '../../src/rank/scorers.js';
import { registryPool } from '../../src/registry/pool.js';
import { updateSourceIndexes } from '../../src/retrieval/source-index.js';
import { meanDirection } from '../../src/retrieval/textemb.js';
import { listEsms } from '../../src/store/esms.js';
import { putSourceVectors } from '../../src/store/source-vectors.js';
import { encodeLabels } from '../../src/task/labels.js';
import { randomEsm, writeRandomPool } from '../helpers/pool.js';
import { randomGenerator } from '../helpers/random.js';
import { DEMO_TEXTS, json, problemOf, type TestServer, TINY_BERT_DEMO_DIR, testServer } from '../helpers/server.js';

let server: TestServer | undefined;

afterEach(async () => {
  await server?.context.close(0);
  server = undefined;
});

async function setUp(options: Parameters<typeof testServer>[0] = {}): Promise<TestServer> {
  server = await testServer(options);
  return server;
}

function randomEmbeddings(rows: number, dim: number, seed: number): number[][] {
  const rng = randomGenerator(seed);
  return Array.from({ length: rows }, () => Array.from({ length: dim }, () => rng.normal()));
}

function uploadForm(file: string | Uint8Array, name: string, fields: Record<string, string>): FormData {
  const form = new FormData();
  form.set('file', new Blob([file]), name);
  for (const [key, value] of Object.entries(fields)) form.set(key, value);
  return form;
}

/** Ranked tasks without their link to fine-tune (which names the ranking job), to compare two jobs' rankings. */
function withoutLinks(ranking: Record<string, unknown>[]): Record<string, unknown>[] {
  return ranking.map(({ finetune: _link, ...task }) => task);
}

async function waitFor(app: TestServer['app'], id: string, states: string[]): Promise<Record<string, any>> {
  for (let i = 0; i < 400; i++) {
    const job = (await (await app.request(`/v1/rankings/${id}`)).json()) as Record<string, any>;
    if (states.includes(job.status)) return job;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`job ${id} never reached ${states.join('/')}`);
}

describe('POST /v1/rankings', () => {
  it('ranks inline texts synchronously, through the embedding cache, and keeps the job', async () => {
    const { app } = await setUp();
    const response = await app.request('/v1/rankings', json({ ...DEMO_TEXTS, model: 'tiny-bert', top: 5 }));
    expect(response.status).toBe(200);
    const job = (await response.json()) as Record<string, any>;
    expect(job.status).toBe('succeeded');
    expect(job.progress).toEqual({ fraction: 1, stage: 'done', eta_seconds: 0 });
    expect(job.result.ranking).toHaveLength(5);
    expect(job.result.considered).toBe(12);
    expect(job.result.ranking.map((t: { rank: number }) => t.rank)).toEqual([1, 2, 3, 4, 5]);
    const scores = job.result.ranking.map((t: { score: number }) => t.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(((await (await app.request(job.links.self)).json()) as Record<string, any>).result).toEqual(job.result);
    // The same texts again come from the cache and rank the same.
    const again = (await (await app.request('/v1/rankings', json({ ...DEMO_TEXTS, model: 'tiny-bert', top: 5 }))).json()) as Record<string, any>;
    expect(withoutLinks(again.result.ranking)).toEqual(withoutLinks(job.result.ranking));
    expect(server!.context.registry.db.prepare('SELECT count(*) FROM embedding_cache').pluck().get()).toBe(1);
  });

  it('ranks in two stages once sources have texts: the nearest `candidates` are scored, with their similarity', async () => {
    const { app, context } = await setUp();
    const { embeddings, meta } = await embedTexts(DEMO_TEXTS.texts, { model: 'tiny-bert' });
    const ids = listEsms(context.registry).map((r) => r.id);
    const rng = randomGenerator(8);
    // Three sources share the target's own TextEmb vector; the rest point elsewhere.
    listEsms(context.registry).forEach((record, i) => {
      const vector = i < 3 ? meanDirection(embeddings) : rng.normals(meta.dim);
      putSourceVectors(context.registry, [record.identity], { model: meta.model, pooling: meta.pooling, vector, texts: 6, texts_sha256: String(i) });
    });
    updateSourceIndexes(context.registry);
    const response = await app.request('/v1/rankings', json({ ...DEMO_TEXTS, model: 'tiny-bert', top: 3, candidates: 3 }));
    const { result } = (await response.json()) as Record<string, any>;
    expect(result.stages).toMatchObject({
      candidates: 3,
      first: { stage: 'textemb', considered: 12, indexed: 12, unindexed: 0, selected: 3 },
      second: { considered: 3 },
    });
    expect(result.ranking.map((t: { source: string }) => t.source).sort()).toEqual(
      ids
        .slice(0, 3)
        .map((id) => `registry#${id}`)
        .sort(),
    );
    for (const task of result.ranking) expect(task.similarity).toBeCloseTo(1, 5);
  });

  it('ranks precomputed embeddings exactly as the library does, with the registry filters', async () => {
    const { app, context } = await setUp();
    const embeddings = randomEmbeddings(40, 32, 3);
    const labels = embeddings.map((_, i) => i % 3);
    const response = await app.request('/v1/rankings', json({ embeddings, labels, filters: { task_id: 'source-1' } }));
    expect(response.status).toBe(200);
    const { result } = (await response.json()) as Record<string, any>;
    const data = Float32Array.from(embeddings.flat());
    const pool = registryPool(context.registry, { task_id: 'source-1' });
    const { scorer } = await selectScorer();
    const target = await prepareTargetFor(scorer, { rows: 40, dim: 32, data }, encodeLabels(labels, 'classification'));
    const expected = await rankPool(target, pool.entries(), pool.total, { scorer });
    expect(result.considered).toBe(3);
    expect(result.ranking.map((t: { source: string; score: number }) => [t.source, t.score])).toEqual(expected.ranking.map((t) => [t.source, t.score]));
  });

  it('ranks an uploaded CSV, and queues it as a job when asked to (Location, then GET)', async () => {
    const { app } = await setUp();
    const csv = readFileSync(join(TINY_BERT_DEMO_DIR, 'target.csv'));
    const fields = { text_column: 'text', label_column: 'label', model: 'tiny-bert', top: '3' };
    const sync = await app.request('/v1/rankings', { method: 'POST', body: uploadForm(csv, 'target.csv', fields) });
    expect(sync.status).toBe(200);
    const done = (await sync.json()) as Record<string, any>;
    expect(done.result.target).toMatchObject({ n: 60, d: 32, classes: ['g02', 'g04', 'g07'] });

    const queued = await app.request('/v1/rankings?async=true', { method: 'POST', body: uploadForm(csv, 'target.csv', fields) });
    expect(queued.status).toBe(202);
    const job = (await queued.json()) as Record<string, any>;
    expect(queued.headers.get('location')).toBe(`/v1/rankings/${job.id}`);
    const finished = await waitFor(app, job.id, ['succeeded', 'failed']);
    expect(withoutLinks(finished.result.ranking)).toEqual(withoutLinks(done.result.ranking));

    const preferred = await app.request('/v1/rankings', { ...json({ ...DEMO_TEXTS, model: 'tiny-bert' }, { prefer: 'respond-async' }) });
    expect(preferred.status).toBe(202);
  });

  it('answers 202 for targets over the synchronous limit', async () => {
    const { app } = await setUp({ limits: { syncRows: 4 } });
    const response = await app.request('/v1/rankings', json({ ...DEMO_TEXTS, model: 'tiny-bert' }));
    expect(response.status).toBe(202);
  });

  it('cancels a queued job; cancelling again is a conflict; an unknown job is 404', async () => {
    const { app } = await setUp({ startJobs: false });
    const job = (await (await app.request('/v1/rankings?async=true', json({ ...DEMO_TEXTS, model: 'tiny-bert' }))).json()) as Record<string, any>;
    expect(job.status).toBe('queued');
    expect(job.progress.stage).toBe('queued');
    const cancelled = await app.request(`/v1/rankings/${job.id}`, { method: 'DELETE' });
    expect(cancelled.status).toBe(200);
    expect(((await cancelled.json()) as Record<string, any>).status).toBe('cancelled');
    const again = await app.request(`/v1/rankings/${job.id}`, { method: 'DELETE' });
    expect(again.status).toBe(409);
    expect((await problemOf(again)).field).toBe('id');
    const missing = await app.request('/v1/rankings/no-such-job');
    expect(missing.status).toBe(404);
    expect((await problemOf(missing)).field).toBe('id');
    expect((await app.request('/v1/rankings/no-such-job/events')).status).toBe(404);
  });

  it('answers malformed input with a 4xx problem naming the field, and keeps serving', async () => {
    const { app } = await setUp({ limits: { bodyBytes: 8 * 2 ** 20, inlineRows: 100 } });
    const cases: [string, RequestInit, number, string | undefined][] = [
      ['wrong content type', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' }, 415, 'content-type'],
      ['no content type', { method: 'POST', body: new Uint8Array([1, 2]) }, 415, 'content-type'],
      ['invalid JSON', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"texts": [' }, 400, 'body'],
      [
        'NaN in embeddings',
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"embeddings": [[1, NaN], [2, 3]], "labels": [0, 1]}' },
        400,
        'body',
      ],
      [
        'null in embeddings',
        json({
          embeddings: [
            [1, 2],
            [3, null],
          ],
          labels: [0, 1],
        }),
        422,
        'embeddings.1.1',
      ],
      ['ragged embeddings', json({ embeddings: [[1, 2], [3]], labels: [0, 1] }), 422, 'embeddings.1'],
      ['labels length ≠ texts length', json({ texts: ['a b', 'c d', 'e f'], labels: [0, 1], model: 'tiny-bert' }), 422, 'labels'],
      ['unknown model', json({ ...DEMO_TEXTS, model: 'no-such-model' }), 422, 'model'],
      ['model path traversal', json({ ...DEMO_TEXTS, model: '../../etc' }), 422, 'model'],
      ['one class only', json({ texts: ['a b', 'c d'], labels: [1, 1], model: 'tiny-bert' }), 422, 'labels'],
      ['unknown field', json({ ...DEMO_TEXTS, model: 'tiny-bert', modle: 'x' }), 422, undefined],
      ['candidates below top', json({ ...DEMO_TEXTS, model: 'tiny-bert', top: 5, candidates: 2 }), 422, 'candidates'],
      ['too many inline rows', json({ texts: Array(101).fill('a b'), labels: Array.from({ length: 101 }, (_, i) => i % 2), model: 'tiny-bert' }), 422, 'texts'],
      ['no ESM matches', json({ ...DEMO_TEXTS, model: 'tiny-bert', filters: { language: 'xx' } }), 422, 'filters'],
    ];
    for (const [name, init, status, field] of cases) {
      const response = await app.request('/v1/rankings', init);
      expect(response.status, name).toBe(status);
      const body = await problemOf(response);
      expect(body.status, name).toBe(status);
      expect(body.type, name).toMatch(/^urn:esmselect:problem:/);
      if (field !== undefined) expect(body.field, name).toBe(field);
    }
    const badQuery = await app.request('/v1/rankings?async=maybe', json({ ...DEMO_TEXTS, model: 'tiny-bert' }));
    expect(badQuery.status).toBe(422);
    expect((await problemOf(badQuery)).field).toBe('async');

    // A 100 MB body, with and without a Content-Length.
    const huge = new Uint8Array(100 * 2 ** 20).fill(32);
    const sized: Record<string, string>[] = [
      { 'content-type': 'application/json', 'content-length': String(huge.byteLength) },
      { 'content-type': 'application/json' },
    ];
    for (const headers of sized) {
      const response = await app.request('/v1/rankings', { method: 'POST', headers, body: huge });
      expect(response.status).toBe(413);
      expect((await problemOf(response)).field).toBe('body');
    }

    // A multipart body cut off half-way.
    const form = new Request('http://x/', {
      method: 'POST',
      body: uploadForm(readFileSync(join(TINY_BERT_DEMO_DIR, 'target.csv')), 'target.csv', { text_column: 'text', label_column: 'label', model: 'tiny-bert' }),
    });
    const bytes = new Uint8Array(await form.arrayBuffer());
    const truncated = await app.request('/v1/rankings', {
      method: 'POST',
      headers: { 'content-type': form.headers.get('content-type')! },
      body: bytes.subarray(0, bytes.length / 2),
    });
    expect(truncated.status).toBe(400);
    expect((await problemOf(truncated)).field).toBe('body');

    // Uploads: a missing column, an unknown format, a missing field.
    const missingColumn = await app.request('/v1/rankings', {
      method: 'POST',
      body: uploadForm('text,label\na b,1\nc d,0\n', 't.csv', { text_column: 'body', label_column: 'label', model: 'tiny-bert' }),
    });
    expect(missingColumn.status).toBe(422);
    const problem = await problemOf(missingColumn);
    expect(problem.field).toBe('file');
    expect(problem.detail).toContain('no column "body"');
    expect(problem.detail).not.toContain(server!.context.dataDir);
    const unknownFormat = await app.request('/v1/rankings', {
      method: 'POST',
      body: uploadForm('x', 't.xlsx', { text_column: 'text', label_column: 'label', model: 'tiny-bert' }),
    });
    expect((await problemOf(unknownFormat)).field).toBe('format');
    const missingField = await app.request('/v1/rankings', { method: 'POST', body: uploadForm('x', 't.csv', { text_column: 'text', model: 'tiny-bert' }) });
    expect((await problemOf(missingField)).field).toBe('label_column');

    // Still serving.
    expect((await app.request('/healthz')).status).toBe(200);
    expect((await app.request('/v1/rankings', json({ ...DEMO_TEXTS, model: 'tiny-bert' }))).status).toBe(200);
  });
});

describe('/v1/sources', () => {
  it('lists with filters and pages, shows one, deletes one', async () => {
    const { app } = await setUp();
    const page = (await (await app.request('/v1/sources?limit=5&offset=10')).json()) as Record<string, any>;
    expect(page).toMatchObject({ total: 12, limit: 5, offset: 10 });
    expect(page.items.map((s: { id: number }) => s.id)).toEqual([11, 12]);
    expect(page.items[0]).not.toHaveProperty('weights_path');
    const filtered = (await (await app.request('/v1/sources?task_id=SOURCE-1&esm_embedding_dim=32')).json()) as Record<string, any>;
    expect(filtered.items.map((s: { task_id: string }) => s.task_id)).toEqual([
      'demo/datasets/source-10.csv',
      'demo/datasets/source-11.csv',
      'demo/datasets/source-12.csv',
    ]);
    expect((await problemOf(await app.request('/v1/sources?limit=0'))).field).toBe('limit');
    expect((await problemOf(await app.request('/v1/sources?colour=red'))).status).toBe(422);

    const one = (await (await app.request('/v1/sources/3')).json()) as Record<string, any>;
    expect(one.config.developers).toMatch(/demo/);
    expect(one.origin).not.toMatch(/^\//);
    expect((await app.request('/v1/sources/3', { method: 'DELETE' })).status).toBe(200);
    const gone = await app.request('/v1/sources/3');
    expect(gone.status).toBe(404);
    expect((await problemOf(gone)).field).toBe('id');
    expect((await app.request('/v1/sources/3', { method: 'DELETE' })).status).toBe(404);
    expect((await problemOf(await app.request('/v1/sources/abc'))).field).toBe('id');
  });

  it('imports folders only from inside the import directory', async () => {
    const { app, context } = await setUp({ demo: false });
    await writeRandomPool(join(context.importRoot, 'pool'), 3, 8);
    const first = await app.request('/v1/sources', json({ path: 'pool' }));
    expect(first.status).toBe(200);
    const summary = (await first.json()) as Record<string, any>;
    expect(summary).toMatchObject({ imported: 3, skipped: 0, rejected: 0 });
    expect(summary.outcomes.map((o: { source: string }) => o.source)).toEqual(['pool/task-000', 'pool/task-001', 'pool/task-002']);
    expect(((await (await app.request('/v1/sources', json({ path: 'pool/' }))).json()) as Record<string, any>).skipped).toBe(3);

    const outside = mkdtempSync(join(tmpdir(), 'esmselect-outside-'));
    await writeRandomPool(outside, 1, 8, 7);
    symlinkSync(outside, join(context.importRoot, 'escape'));
    mkdirSync(join(context.importRoot, 'sneaky'));
    for (const file of ['config.json', 'model.safetensors']) symlinkSync(join(outside, 'task-000', file), join(context.importRoot, 'sneaky', file));
    for (const [path, status] of [
      ['../', 422],
      ['/etc', 422],
      ['pool/../../x', 422],
      ['escape', 422],
      ['nothing-here', 422],
    ] as const) {
      const response = await app.request('/v1/sources', json({ path }));
      expect(response.status, path).toBe(status);
      const problem = await problemOf(response);
      expect(problem.field, path).toBe('path');
      expect(problem.detail, path).not.toContain(context.dataDir);
    }
    const sneaky = (await (await app.request('/v1/sources', json({ path: 'sneaky' }))).json()) as Record<string, any>;
    expect(sneaky).toMatchObject({ imported: 0, rejected: 1 });
    expect(sneaky.outcomes[0].reason).toMatch(/leads out of the import directory/);
  });

  it('registers an uploaded ESM once, and refuses broken weights', async () => {
    const { app } = await setUp({ demo: false });
    const esm = randomEsm('upload/task', 8, 5);
    const form = () => {
      const f = new FormData();
      f.set('config', new Blob([esmConfigJson(esm)]), 'config.json');
      f.set('weights', new Blob([esmWeightsFile(esm)]), 'model.safetensors');
      return f;
    };
    const created = await app.request('/v1/sources', { method: 'POST', body: form() });
    expect(created.status).toBe(201);
    const body = (await created.json()) as Record<string, any>;
    expect(created.headers.get('location')).toBe(`/v1/sources/${body.source.id}`);
    expect(body).toMatchObject({ status: 'imported', source: { task_id: 'upload/task', origin: 'upload', esm_embedding_dim: 8 } });
    const again = await app.request('/v1/sources', { method: 'POST', body: form() });
    expect(again.status).toBe(200);
    expect(((await again.json()) as Record<string, any>).status).toBe('skipped');

    const broken = new FormData();
    broken.set('config', new Blob([esmConfigJson(esm)]), 'config.json');
    broken.set('weights', new Blob([esmWeightsFile(esm).subarray(0, 100)]), 'model.safetensors');
    const refused = await app.request('/v1/sources', { method: 'POST', body: broken });
    expect(refused.status).toBe(422);
    expect((await problemOf(refused)).field).toBe('weights');
    const noWeights = new FormData();
    noWeights.set('config', new Blob(['{}']), 'config.json');
    expect((await problemOf(await app.request('/v1/sources', { method: 'POST', body: noWeights }))).field).toBe('weights');
  });
});

describe('models, probes, metrics, docs, auth', () => {
  it('lists the local models with their pooling and width', async () => {
    const { app } = await setUp();
    const { models } = (await (await app.request('/v1/models')).json()) as { models: Record<string, unknown>[] };
    expect(models).toEqual([
      { name: 'tiny-bert', pooling: 'pooler_output', dim: 32, ready: true },
      { name: 'tiny-distilbert', pooling: 'first_token', dim: 32, ready: true },
      { name: 'tiny-sentence-bert', pooling: 'mean', dim: 32, ready: true },
      { name: 'wordnet-bert', pooling: 'mean', dim: 64, ready: true },
    ]);
  });

  it('answers the probes, counts requests and scored ESMs, serves the docs offline', async () => {
    const { app } = await setUp();
    expect(await (await app.request('/healthz')).json()).toEqual({ status: 'ok' });
    await app.request('/v1/rankings', json({ ...DEMO_TEXTS, model: 'tiny-bert' }));
    await app.request('/v1/sources/999');
    const ready = (await (await app.request('/readyz')).json()) as Record<string, any>;
    expect(ready).toMatchObject({ status: 'ready', esms: 12, jobs: { succeeded: 1, queued: 0 } });
    const metrics = await (await app.request('/metrics')).text();
    expect(metrics).toContain('esmselect_http_requests_total{method="POST",route="/v1/rankings",status="200"} 1');
    expect(metrics).toContain('esmselect_http_requests_total{method="GET",route="/v1/sources/:id",status="404"} 1');
    expect(metrics).toMatch(/esmselect_http_request_duration_seconds_bucket\{le="\+Inf",method="POST",route="\/v1\/rankings",status="200"\} 1/);
    expect(metrics).toContain('esmselect_ranking_jobs{state="succeeded"} 1');
    expect(metrics).toContain('esmselect_esms_scored_total 12');

    const page = await (await app.request('/docs')).text();
    expect(page).toContain('docs/swagger-ui-bundle.js');
    expect(page).not.toMatch(/https?:\/\//);
    const bundle = await app.request('/docs/swagger-ui-bundle.js');
    expect(bundle.headers.get('content-type')).toMatch(/javascript/);
    expect((await bundle.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
    expect((await app.request('/docs/..%2F..%2Fpackage.json')).status).toBe(422);
    expect(await (await app.request('/openapi.yaml')).text()).toContain('openapi: 3.1.0');
    const notAllowed = await app.request('/v1/models', { method: 'POST' });
    expect(notAllowed.status).toBe(405);
    expect(notAllowed.headers.get('allow')).toBe('GET');
  });

  it('requires the bearer token when one is set (probes and docs stay open), and never logs it', async () => {
    const token = 's3cret-token-value';
    const { app, logs } = await setUp({ token });
    const without = await app.request('/v1/models');
    expect(without.status).toBe(401);
    expect(without.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await problemOf(without)).field).toBe('authorization');
    expect((await app.request('/v1/models', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await app.request('/v1/models', { headers: { authorization: `Basic ${token}` } })).status).toBe(401);
    expect((await app.request('/v1/models', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    // The body is not read before the token is checked.
    expect((await app.request('/v1/rankings', json({ ...DEMO_TEXTS, model: 'tiny-bert' }))).status).toBe(401);
    for (const open of ['/healthz', '/readyz', '/openapi.yaml', '/docs']) expect((await app.request(open)).status, open).toBe(200);
    expect(logs.join('\n')).not.toContain(token);
  });
});
