import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { esmConfigJson, esmWeightsFile } from '../../src/esm/hfselect.js';
import { OPENAPI_FILE } from '../../src/server/http/openapi.js';
import { randomEsm } from '../helpers/pool.js';
import { json, problemOf, type TestServer, testServer } from '../helpers/server.js';

/** The ESM routes under /v1/esms, their deprecated /v1/sources aliases, and a fine-tune's esm_id. */

let server: TestServer | undefined;
afterEach(async () => {
  await server?.context.close(0);
  server = undefined;
});

async function body(response: Response): Promise<any> {
  return response.json();
}

function esmForm(): FormData {
  const esm = randomEsm('upload/task', 8, 5);
  const form = new FormData();
  form.set('config', new Blob([esmConfigJson(esm)]), 'config.json');
  form.set('weights', new Blob([esmWeightsFile(esm)]), 'model.safetensors');
  return form;
}

/** A fine-tune request with a small uploaded target, `fields` added. */
function finetuneForm(fields: Record<string, string>): FormData {
  const form = new FormData();
  const target = ['text,label', 'great phone,good', 'awful price,bad', 'love it,good', 'worst buy,bad', 'happy buy,good', 'hate it,bad'].join('\n');
  form.set('target_file', new Blob([`${target}\n`]), 'target.csv');
  form.set('text_column', 'text');
  form.set('label_column', 'label');
  for (const [key, value] of Object.entries(fields)) form.set(key, value);
  return form;
}

describe('/v1/esms', () => {
  it('lists, shows, uploads and deletes ESMs, as its deprecated alias /v1/sources does', async () => {
    server = await testServer();
    const { app } = server;
    const filtered = await body(await app.request('/v1/esms?task_id=SOURCE-1&esm_embedding_dim=32'));
    expect(filtered.items.map((e: { task_id: string }) => e.task_id)).toEqual([
      'demo/datasets/source-10.csv',
      'demo/datasets/source-11.csv',
      'demo/datasets/source-12.csv',
    ]);
    expect(await body(await app.request('/v1/sources?task_id=SOURCE-1&esm_embedding_dim=32'))).toEqual(filtered);
    expect((await problemOf(await app.request('/v1/esms?colour=red'))).field).toBe('colour');
    expect(await body(await app.request('/v1/esms/3'))).toEqual(await body(await app.request('/v1/sources/3')));

    const created = await app.request('/v1/esms', { method: 'POST', body: esmForm() });
    expect(created.status).toBe(201);
    const { source } = await body(created);
    expect(created.headers.get('location')).toBe(`/v1/esms/${source.id}`);
    expect(await body(await app.request(`/v1/esms/${source.id}`))).toMatchObject({ task_id: 'upload/task', origin: 'upload' });
    // The alias registers into the same registry: the same ESM again is skipped there.
    expect((await body(await app.request('/v1/sources', { method: 'POST', body: esmForm() }))).status).toBe('skipped');

    expect((await app.request(`/v1/esms/${source.id}`, { method: 'DELETE' })).status).toBe(200);
    for (const path of [`/v1/esms/${source.id}`, `/v1/sources/${source.id}`]) {
      const gone = await app.request(path);
      expect(gone.status, path).toBe(404);
      expect((await problemOf(gone)).field, path).toBe('id');
    }
  });

  it('takes pulls at /v1/esms/pull, refused at once when HF_HUB_OFFLINE is set, and answers an unknown pull with 404', async () => {
    server = await testServer({ demo: false, hub: { endpoint: 'http://127.0.0.1:9', offline: true } });
    const { app } = server;
    const refused = await app.request('/v1/esms/pull', json({ base_model: 'x' }));
    expect(refused.status).toBe(503);
    expect((await problemOf(refused)).detail).toMatch(/^POST \/v1\/esms\/pull needs the Hugging Face Hub, but HF_HUB_OFFLINE is set/);
    for (const path of ['/v1/esms/pull/no-such-pull', '/v1/sources/pull/no-such-pull']) {
      const missing = await app.request(path);
      expect(missing.status, path).toBe(404);
      expect((await problemOf(missing)).field, path).toBe('id');
    }
  });
});

describe('POST /v1/finetunes with esm_id', () => {
  it('fine-tunes on a registered ESM by esm_id, and still by its deprecated alias source_id', async () => {
    server = await testServer({ startJobs: false });
    const { app } = server;
    const byEsm = await app.request('/v1/finetunes', { method: 'POST', body: finetuneForm({ esm_id: '2' }) });
    expect(byEsm.status).toBe(202);
    const job = await body(byEsm);
    expect(job.request).toMatchObject({ model: 'tiny-bert', source: { task_id: 'demo/datasets/source-02.csv', source_id: 2, dataset_id: expect.any(Number) } });
    const bySource = await body(await app.request('/v1/finetunes', { method: 'POST', body: finetuneForm({ source_id: '2' }) }));
    expect(bySource.request.source).toEqual(job.request.source);

    const cases: [string, FormData, string][] = [
      ['unknown esm_id', finetuneForm({ esm_id: '999' }), 'esm_id'],
      ['esm_id not a number', finetuneForm({ esm_id: 'topic' }), 'esm_id'],
      ['esm_id and its alias', finetuneForm({ esm_id: '2', source_id: '2' }), 'source_id'],
      ['esm_id and a ranking', finetuneForm({ esm_id: '2', ranking_id: 'r', rank: '1' }), 'ranking_id'],
      ['a model the ESM is not for', finetuneForm({ esm_id: '2', model: 'tiny-distilbert' }), 'model'],
    ];
    for (const [name, form, field] of cases) {
      const response = await app.request('/v1/finetunes', { method: 'POST', body: form });
      expect(response.status, name).toBe(422);
      expect((await problemOf(response)).field, name).toBe(field);
    }
  });
});

describe('openapi.yaml', () => {
  it('marks each /v1/sources route deprecated, the alias of the same operation under /v1/esms', () => {
    const { paths, components } = YAML.parse(readFileSync(OPENAPI_FILE, 'utf8')) as {
      paths: Record<string, Record<string, { deprecated?: boolean; summary: string }>>;
      components: { schemas: Record<string, { properties: Record<string, { deprecated?: boolean }> }> };
    };
    const aliases = Object.keys(paths).filter((path) => path.startsWith('/v1/sources'));
    expect(aliases.length).toBe(5);
    for (const path of aliases) {
      for (const [method, operation] of Object.entries(paths[path])) {
        const current = paths[path.replace('/v1/sources', '/v1/esms')]?.[method];
        expect(current, `${method} ${path}`).toBeDefined();
        expect(operation.deprecated, `${method} ${path}`).toBe(true);
        expect(current.deprecated, `${method} ${path}`).toBeUndefined();
        expect(operation.summary).toBe(current.summary);
      }
    }
    expect(components.schemas.FinetuneUpload.properties.source_id.deprecated).toBe(true);
    expect(components.schemas.FinetuneUpload.properties.esm_id.deprecated).toBeUndefined();
  });
});
