import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddingSpaceMap } from '../../src/esm/esm.js';
import { registerEsm } from '../../src/registry/esms.js';
import { parquetOf, reviews } from '../helpers/hub/parquet.js';
import { addParquetConversion } from '../helpers/hub/seed.js';
import { type HubStandin, startHubStandin } from '../helpers/hub/standin.js';
import { esmConfig } from '../helpers/pool.js';
import { randomGenerator } from '../helpers/random.js';
import { json, problemOf, type TestServer, testServer } from '../helpers/server.js';
import { keywordTask, SENTIMENT, TOPIC } from '../helpers/synthetic.js';

/** The service with Hub datasets as targets and as the data of published source tasks, against the Hub stand-in. */

const TOPICS = keywordTask('org/topics', TOPIC, 60, 1);
const TARGET = keywordTask('target', SENTIMENT, 40, 2);
const FAST = { epochs: 1, batchSize: 16, learningRate: 3e-3, heldOutFraction: 0.25 };

let hub: HubStandin;
let server: TestServer | undefined;
beforeAll(async () => {
  hub = await startHubStandin();
  addParquetConversion(hub, 'org/reviews', 'default', 'train', [parquetOf(reviews(40))]);
  const classes = Object.keys(TOPIC);
  addParquetConversion(hub, 'org/topics', 'default', 'train', [
    parquetOf(TOPICS.texts.map((text, i) => ({ text, label: classes.indexOf(TOPICS.labels[i] as string) }))),
  ]);
});
beforeEach(() => {
  process.env.HF_ENDPOINT = hub.endpoint;
  delete process.env.HF_HUB_OFFLINE;
});
afterEach(async () => {
  await server?.context.close(0);
  server = undefined;
});
afterAll(async () => {
  delete process.env.HF_ENDPOINT;
  await hub.close();
});

async function waitFor(app: TestServer['app'], path: string, done: (job: Record<string, any>) => boolean): Promise<Record<string, any>> {
  for (let tries = 0; tries < 4000; tries++) {
    const job = (await (await app.request(path)).json()) as Record<string, any>;
    if (done(job)) return job;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${path} never got there`);
}

const ended = (job: Record<string, any>) => ['succeeded', 'failed', 'cancelled'].includes(job.status);
const target = { dataset: 'hf://datasets/org/reviews', text_column: 'text', label_column: 'label', model: 'tiny-bert' };

describe('POST /v1/rankings with a Hub dataset', () => {
  it('reads the dataset from the Hub into the data dir and ranks it; a job reads the same commit again from the cache', async () => {
    server = await testServer();
    const { app } = server;
    const response = await app.request('/v1/rankings', json({ ...target, top: 3 }));
    expect(response.status).toBe(200);
    const job = (await response.json()) as Record<string, any>;
    expect(job.result.ranking).toHaveLength(3);
    expect(job.result.target).toMatchObject({ n: 40, d: 32, task: 'classification' });

    // Queued: the request read it; the job, offline, reads it from the cache.
    const queued = await app.request('/v1/rankings?async=true', json({ ...target, num_examples: 20, seed: 3 }));
    expect(queued.status).toBe(202);
    process.env.HF_HUB_OFFLINE = '1';
    const before = hub.requests.length;
    const done = await waitFor(app, `/v1/rankings/${((await queued.json()) as { id: string }).id}`, ended);
    expect(done.status).toBe('succeeded');
    expect(done.result.target.n).toBe(20);
    expect(hub.requests.length).toBe(before);
  });

  it('answers what is wrong with a problem naming the field, without server paths', async () => {
    server = await testServer({ startJobs: false });
    const { app } = server;
    const cases: [string, Record<string, unknown>, number, string, string][] = [
      ['unknown dataset', { ...target, dataset: 'hf://datasets/org/none' }, 422, 'dataset', 'no such dataset on the Hub'],
      ['unknown split', { ...target, split: 'dev' }, 422, 'split', 'its splits are "train"'],
      ['unknown subset', { ...target, subset: 'xx' }, 422, 'subset', 'its subsets are "default"'],
      ['missing column', { ...target, text_column: 'body' }, 422, 'dataset', 'no column "body"'],
      ['not a Hub dataset', { ...target, dataset: 'hf://spaces/org/x' }, 422, 'dataset', 'hf://datasets/ORG/NAME'],
      ['not hf://', { ...target, dataset: '/etc/passwd' }, 422, 'dataset', 'hf://datasets/ORG/NAME'],
    ];
    for (const [name, body, status, field, detail] of cases) {
      const response = await app.request('/v1/rankings', json(body));
      expect(response.status, name).toBe(status);
      const problem = await problemOf(response);
      expect(problem.field, name).toBe(field);
      expect(problem.detail, name).toContain(detail);
      expect(problem.detail, name).not.toContain(server.context.dataDir);
    }
    // Offline, what the cache holds is read (org/reviews, read above), what it lacks refused.
    process.env.HF_HUB_OFFLINE = '1';
    expect((await app.request('/v1/rankings', json(target))).status).toBe(200);
    const offline = await app.request('/v1/rankings', json({ ...target, dataset: 'hf://datasets/org/topics' }));
    expect(offline.status).toBe(409);
    const problem = await problemOf(offline);
    expect(problem.field).toBe('dataset');
    expect(problem.detail).toContain('HF_HUB_OFFLINE is set');
  });
});

/** A published ESM (hfselect's config names its dataset on the Hub) for tiny-bert's space, with no dataset registered. */
async function publishedSource(server: TestServer, taskId: string, seed: number): Promise<number> {
  const rng = randomGenerator(seed);
  const weight = rng.normals(32 * 32, 0.05);
  for (let i = 0; i < 32; i++) weight[i * 32 + i] += 1;
  const esm = new EmbeddingSpaceMap(
    esmConfig(taskId, 32, { base_model_name: 'tiny-bert', task_subset: null, task_split: 'train', text_column: 'text', label_column: 'label' }),
    weight,
    rng.normals(32, 0.02),
  );
  return (await registerEsm(server.context.registry, esm, { origin: 'test' })).record.id;
}

function finetuneForm(fields: Record<string, string>): FormData {
  const form = new FormData();
  form.set('target_file', new Blob([`text,label\n${TARGET.texts.map((t, i) => `${t},${String(TARGET.labels[i])}`).join('\n')}\n`]), 'target.csv');
  for (const [key, value] of Object.entries({
    text_column: 'text',
    label_column: 'label',
    intermediate_settings: JSON.stringify(FAST),
    target_settings: JSON.stringify(FAST),
    ...fields,
  }))
    form.set(key, value);
  return form;
}

describe('POST /v1/finetunes with a published source', () => {
  it('fine-tunes on a ranked published source from the Hub dataset its ESM names, and registers the ESM of the fine-tune with that task', async () => {
    server = await testServer({ demo: false });
    const { app } = server;
    const topics = await publishedSource(server, 'org/topics', 1);
    await publishedSource(server, 'org/elsewhere', 2);
    const embeddings = Array.from({ length: 8 }, (_, i) => Array.from({ length: 32 }, (_, j) => Math.cos(i * 7 + j)));
    const ranking = (await (await app.request('/v1/rankings', json({ embeddings, labels: [0, 1, 0, 1, 0, 1, 0, 1] }))).json()) as Record<string, any>;
    const ranked = (ranking.result.ranking as { task_id: string; finetune: { ranking_id: string; rank: number } }[]).find((t) => t.task_id === 'org/topics')!;

    const created = await app.request('/v1/finetunes', {
      method: 'POST',
      body: finetuneForm({ ranking_id: ranked.finetune.ranking_id, rank: String(ranked.finetune.rank) }),
    });
    expect(created.status).toBe(202);
    const job = (await created.json()) as Record<string, any>;
    const revision = hub.store.get('dataset', 'org/topics')!.branches.get('refs/convert/parquet');
    expect(job.request).toMatchObject({
      model: 'tiny-bert',
      source: {
        task_id: 'org/topics',
        rows: 60,
        rank: ranked.finetune.rank,
        hub: { dataset: 'hf://datasets/org/topics', subset: 'default', split: 'train', revision },
      },
    });
    // The fine-tune's own process reads the data again from the cache: offline from now on.
    process.env.HF_HUB_OFFLINE = '1';
    const done = await waitFor(app, job.links.self, ended);
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    const esm = (await (await app.request(`/v1/sources/${done.result.esm.source_id}`)).json()) as Record<string, any>;
    expect(esm).toMatchObject({ task_id: 'org/topics', task_subset: 'default', task_split: 'train', base_model_name: 'tiny-bert' });

    // By source id too; and a published source whose dataset the Hub does not have is a 409 naming the field.
    delete process.env.HF_HUB_OFFLINE;
    const bySource = await app.request('/v1/finetunes', { method: 'POST', body: finetuneForm({ source_id: String(topics) }) });
    expect(bySource.status).toBe(202);
    expect(((await bySource.json()) as Record<string, any>).request.source.hub.dataset).toBe('hf://datasets/org/topics');
    const elsewhere = (ranking.result.ranking as { task_id: string; rank: number }[]).find((t) => t.task_id === 'org/elsewhere')!;
    const missing = await app.request('/v1/finetunes', { method: 'POST', body: finetuneForm({ ranking_id: ranking.id, rank: String(elsewhere.rank) }) });
    expect(missing.status).toBe(409);
    const problem = await problemOf(missing);
    expect(problem.field).toBe('rank');
    expect(problem.detail).toContain('hf://datasets/org/elsewhere: no such dataset on the Hub');
  });
});
