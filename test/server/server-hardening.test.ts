import { mkdtempSync, realpathSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config.js';
import { EmbeddingSpaceMap } from '../../src/esm/esm.js';
import { esmConfigJson, esmWeightsFile } from '../../src/esm/hfselect.js';
import { registerEsm } from '../../src/registry/esms.js';
import { withoutServerPaths } from '../../src/server/http/redact.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { createJob, finishJob } from '../../src/store/jobs.js';
import { randomEsm } from '../helpers/pool.js';
import { DEMO_TEXTS, json, problemOf, readEvents, type TestServer, testServer } from '../helpers/server.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.context.close(0);
  server = undefined;
});

async function setUp(options: Parameters<typeof testServer>[0] = {}): Promise<TestServer> {
  server = await testServer(options);
  return server;
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** Where a TensorFlow.js native binding that fails to load is reported from: this install's node_modules. */
const BINDING = join(realpathSync(join(PACKAGE_ROOT, 'node_modules')), '@tensorflow', 'tfjs-node', 'lib', 'napi-v8', 'tfjs_binding.node');
const BACKEND = `TensorFlow.js backend: cpu (unavailable: node-gpu: not installed; node: ${BINDING}: cannot open shared object file: No such file or directory)`;

describe('server paths: one place removes them from every response, event and log line', () => {
  it('names the data and models dirs, and cuts any other path on this machine to its last segment', () => {
    const dirs = { dataDir: '/srv/esm/data', modelsDir: '/srv/esm/data/models' };
    expect(withoutServerPaths(dirs, 'read /srv/esm/data/models/tiny-bert/config.json and /srv/esm/data/jobs/x.csv')).toBe(
      'read <models dir>/tiny-bert/config.json and <data dir>/jobs/x.csv',
    );
    expect(withoutServerPaths(dirs, BACKEND)).toBe(
      'TensorFlow.js backend: cpu (unavailable: node-gpu: not installed; node: <server path>/tfjs_binding.node: cannot open shared object file: No such file or directory)',
    );
    expect(withoutServerPaths(dirs, `Error: boom\n    at run (${PACKAGE_ROOT}src/server/app.ts:12:3)`)).toBe(
      'Error: boom\n    at run (<server path>/app.ts:12:3)',
    );
    expect(withoutServerPaths(dirs, 'C:\\Users\\me\\esm\\model.onnx is missing')).toBe('<server path>/model.onnx is missing');
    // The service's own URLs and a Hub name are not paths.
    const kept = 'GET /v1/sources/3 lists it; see /docs, /openapi.yaml, https://huggingface.co/bert-base-uncased and glue/sst2';
    expect(withoutServerPaths(dirs, kept)).toBe(kept);
  });

  it('a fine-tune result and an ESM training report that name a native binding are answered without its path', async () => {
    const { app, context, logs } = await setUp({ demo: false, startJobs: false });
    const { record } = await registerEsm(context.registry, randomEsm('trained/task', 8, 3), {
      origin: 'finetuned',
      training: { settings: {}, epochLosses: [1], heldOutR2: null, trainRows: 4, heldOutRows: 0, steps: 1, backend: BACKEND, seconds: 1 } as never,
    });
    // Fine-tunes as the registry keeps them: the request, and the result as the runner's process reports it.
    const request = {
      model: 'tiny-bert',
      source: { upload: { task_id: 'source', rows: 4 } },
      target: { task_id: 'target', rows: 4 },
      intermediate: {},
      target_stage: {},
    };
    const stage = { epochs: [] };
    createJob(context.registry, 'ft-1', 'finetune', request);
    finishJob(context.registry, 'ft-1', {
      state: 'succeeded',
      result: { intermediate: stage, target: stage, esm: { source_id: record.id }, backend: BACKEND },
    });
    createJob(context.registry, 'ft-2', 'finetune', request);
    finishJob(context.registry, 'ft-2', {
      state: 'failed',
      error: { type: 'urn:esmselect:problem:internal', status: 500, detail: `the fine-tune process failed: cannot read ${BINDING}` },
    });

    const answers: [string, string][] = [];
    for (const path of [`/v1/sources/${record.id}`, '/v1/sources', '/v1/finetunes/ft-1', '/v1/finetunes/ft-2']) {
      const response = await app.request(path);
      expect(response.status, path).toBe(200);
      answers.push([path, await response.text()]);
    }
    const events = await readEvents(await app.request('/v1/finetunes/ft-1/events'));
    answers.push(['events', JSON.stringify(events)]);
    context.log(`a line that names ${BINDING} and ${join(context.dataDir, 'jobs', 'ft-1')}`);
    answers.push(['log', logs.join('\n')]);
    for (const [where, text] of answers) {
      expect(text, where).not.toContain(PACKAGE_ROOT);
      expect(text, where).not.toContain('node_modules');
      expect(text, where).not.toContain(context.dataDir);
    }
    const source = JSON.parse(answers[0][1]);
    expect(source.training.backend).toContain('node: <server path>/tfjs_binding.node: cannot open');
    expect(JSON.parse(answers[2][1]).result.backend).toContain('<server path>/tfjs_binding.node');
    expect(JSON.parse(answers[3][1]).error.detail).toBe('the fine-tune process failed: cannot read <server path>/tfjs_binding.node');
    expect(events.at(-1)?.data.result.backend).toContain('<server path>/tfjs_binding.node');
    expect(logs.at(-1)).toBe('a line that names <server path>/tfjs_binding.node and <data dir>/jobs/ft-1');
  });
});

describe('request inputs', () => {
  it('a query parameter the route does not have is named as such, not as the body', async () => {
    const { app } = await setUp();
    const response = await app.request('/v1/sources?evil=1');
    expect(response.status).toBe(422);
    const problem = await problemOf(response);
    expect(problem).toMatchObject({ field: 'evil', detail: 'evil: not a query parameter of this route' });
    const body = await problemOf(await app.request('/v1/rankings', json({ ...DEMO_TEXTS, model: 'tiny-bert', modle: 'x' })));
    expect(body).toMatchObject({ field: 'modle', detail: 'modle: not a field of this request' });
  });

  it('ESM ids are decimal integers only: 0x1, 1e0, 01 and " 1" are not ESM #1', async () => {
    const { app } = await setUp();
    expect((await app.request('/v1/sources/1')).status).toBe(200);
    for (const id of ['0x1', '1e0', '01', '%201', '+1', '1.0', '0', '-1']) {
      const response = await app.request(`/v1/sources/${id}`);
      expect(response.status, id).toBe(422);
      expect((await problemOf(response)).field, id).toBe('id');
      expect((await app.request(`/v1/sources/${id}`, { method: 'DELETE' })).status, id).toBe(422);
    }
    expect((await app.request('/v1/sources/1')).status).toBe(200);
    const form = new FormData();
    form.set('target_file', new Blob(['text,label\na b,x\nc d,y\n']), 't.csv');
    form.set('text_column', 'text');
    form.set('label_column', 'label');
    form.set('source_id', '0x1');
    const finetune = await app.request('/v1/finetunes', { method: 'POST', body: form });
    expect(finetune.status).toBe(422);
    expect((await problemOf(finetune)).field).toBe('source_id');
  });

  it("a task id taken from an uploaded file's name is cut to 200 characters; an explicit longer one is refused", async () => {
    const { app } = await setUp({ startJobs: false });
    const form = (sourceName: string, taskId?: string) => {
      const f = new FormData();
      f.set('target_file', new Blob(['text,label\ngood film,pos\nbad film,neg\n']), `${'t'.repeat(250)}.csv`);
      f.set('source_file', new Blob(['text,label\nsports news,a\nstock news,b\n']), sourceName);
      f.set('text_column', 'text');
      f.set('label_column', 'label');
      f.set('model', 'tiny-bert');
      if (taskId !== undefined) f.set('source_task_id', taskId);
      return f;
    };
    const created = await app.request('/v1/finetunes', { method: 'POST', body: form(`${'s'.repeat(199)}😀${'s'.repeat(50)}.csv`) });
    expect(created.status).toBe(202);
    const { request } = (await created.json()) as { request: { source: { task_id: string }; target: { task_id: string } } };
    expect(request.target.task_id).toBe('t'.repeat(200));
    // The 200th character would be half an emoji: the id stops before it.
    expect(request.source.task_id).toBe('s'.repeat(199));
    const explicit = await app.request('/v1/finetunes', { method: 'POST', body: form('source.csv', 'x'.repeat(201)) });
    expect(explicit.status).toBe(422);
    expect((await problemOf(explicit)).field).toBe('source_task_id');
  });

  it('an uploaded ESM config must name its base model as the Hub does', async () => {
    const { app } = await setUp({ demo: false });
    const upload = (baseModel: string) => {
      const esm = randomEsm(`upload/${baseModel}`, 8, 5);
      const config = new EmbeddingSpaceMap({ ...esm.config, base_model_name: baseModel }, esm.weight, esm.bias);
      const form = new FormData();
      form.set('config', new Blob([esmConfigJson(config)]), 'config.json');
      form.set('weights', new Blob([esmWeightsFile(config)]), 'model.safetensors');
      return app.request('/v1/sources', { method: 'POST', body: form });
    };
    for (const bad of ['../../etc', '/etc/passwd', 'org/../x', 'a/b/c', '.hidden', 'name with spaces', 'org\\name']) {
      const response = await upload(bad);
      expect(response.status, bad).toBe(422);
      const problem = await problemOf(response);
      expect(problem.field, bad).toBe('config.base_model_name');
      expect(problem.detail, bad).toMatch(/base_model_name: must be a Hugging Face model name/);
    }
    for (const good of ['bert-base-uncased', 'sentence-transformers/all-MiniLM-L6-v2', 'org_1/model.v2']) expect((await upload(good)).status, good).toBe(201);
  });

  it('ranks an uploaded CSV saved with a UTF-8 byte-order mark (Excel\'s "CSV UTF-8")', async () => {
    const { app } = await setUp();
    const csv = `text,label\n${DEMO_TEXTS.texts.map((text, i) => `${text},${DEMO_TEXTS.labels[i]}`).join('\n')}\n`;
    const form = new FormData();
    form.set('file', new Blob([BOM, csv]), 'excel.csv');
    for (const [key, value] of Object.entries({ text_column: 'text', label_column: 'label', model: 'tiny-bert' })) form.set(key, value);
    const response = await app.request('/v1/rankings', { method: 'POST', body: form });
    expect(response.status).toBe(200);
    expect(((await response.json()) as Record<string, any>).result.target).toMatchObject({ n: 6, classes: ['bad', 'good'] });
  });
});

describe('a client that drops its upload', () => {
  let running: RunningServer | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  /** Sends the head of a request and part of its body, then closes the connection. */
  function dropAfterPart(port: number, path: string, chunked: boolean): Promise<void> {
    const part = '--XYZ\r\nContent-Disposition: form-data; name="file"; filename="t.csv"\r\nContent-Type: text/csv\r\n\r\ntext,label\ngood,pos\n';
    const length = chunked ? 'Transfer-Encoding: chunked' : 'Content-Length: 100000';
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(`POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=XYZ\r\n${length}\r\n\r\n`);
        socket.write(chunked ? `${Buffer.byteLength(part).toString(16)}\r\n${part}\r\n` : part);
        setTimeout(() => socket.destroy(), 100);
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
  }

  it('is counted as 499 (client closed request) with one log line, not as a 500 with a stack', async () => {
    const logs: string[] = [];
    running = await startServer({ port: 0, demo: false, dataDir: mkdtempSync(join(tmpdir(), 'esmselect-abort-')), log: (line) => logs.push(line) });
    const before = logs.length;
    await dropAfterPart(running.port, '/v1/rankings', true);
    await dropAfterPart(running.port, '/v1/sources', false);
    let requests: string[] = [];
    for (let i = 0; i < 100 && requests.length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const metrics = await (await fetch(`${running.url}/metrics`)).text();
      requests = metrics.split('\n').filter((line) => line.startsWith('esmselect_http_requests_total{method="POST"'));
    }
    expect(requests.sort()).toEqual([
      'esmselect_http_requests_total{method="POST",route="/v1/rankings",status="499"} 1',
      'esmselect_http_requests_total{method="POST",route="/v1/sources",status="499"} 1',
    ]);
    const lines = logs.slice(before).join('\n').split('\n');
    expect(lines.sort()).toEqual([
      'POST /v1/rankings: the client closed the connection before the answer (aborted)',
      'POST /v1/sources: the client closed the connection before the answer (aborted)',
    ]);
    // Still serving.
    expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
  });
});
