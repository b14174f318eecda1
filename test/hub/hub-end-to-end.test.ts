import { type ChildProcess, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EsmConfig } from '../../src/esm/config.js';
import type { RankingResult } from '../../src/rank/ranking.js';
import { MODELS_ROOT } from '../helpers/finetune.js';
import { withoutOutputs } from '../helpers/hub/onnx.js';
import { addParquetConversion, publishEsm, publishFolder } from '../helpers/hub/seed.js';
import { type HubStandin, startHubStandin } from '../helpers/hub/standin.js';

/**
 * Issue 13's "Done when", end to end against the Hub stand-in: model pull → esm pull by base model →
 * rank --esms hub of a Hub dataset → fine-tune on the top published source from its Hub dataset →
 * esm push of the fine-tune's new ESM, from the CLI (the built dist/cli/main.js: `npx tsc -p
 * tsconfig.build.json` first) and from the service (`esmselect serve` on loopback), each refusal one
 * line (exit 2) or a problem naming the field; and the README's "real use" quick start as written.
 *
 * The Hub as a user of hfselect finds it: `bert-base-uncased` renamed to google-bert/bert-base-uncased,
 * which has no ONNX export of its own (Xenova/bert-base-uncased has one). Here those repos hold
 * models/tiny-bert's files (hidden size 32), and the ESMs published for bert-base-uncased are the demo
 * pool's (DEMO, its README.md: real fine-tunes of tiny-bert), their configs naming their datasets on
 * the Hub; the target is the demo's target.csv, a Hub dataset too. The demo's ranking of that target
 * makes its datasets/source-08 the best source (its classes hold the target's keyword groups) and
 * source-05 the worst: the published pool is four of them.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The tiny-bert demo pool (esms/, datasets/, target.csv): every path to it goes through this one constant. */
const DEMO = join(ROOT, 'test', 'fixtures', 'demo-tiny-bert');
const READ = 'hf_e2e_read_token_1234';
const WRITE = 'hf_e2e_write_token_5678';
const MODEL = 'bert-base-uncased';
const HUB_MODEL = 'google-bert/bert-base-uncased';
const ONNX_REPO = 'Xenova/bert-base-uncased';
/** The published pool: demo sources, best first as the demo ranks them for its target (DEMO's README.md). */
const SOURCES = ['source-08', 'source-11', 'source-01', 'source-05'];
const TARGET = 'hf://datasets/me/target';
const TASK = (source: string) => `demo-tasks/${source}`;
const REPO = (source: string) => `esm-lab/${source}-esm`;
/** Where the CLI publishes the ESM of its fine-tune (the service's part finds it in the pool when it runs after). */
const PUSHED = 'alice/source-08-finetuned';

let hub: HubStandin;
let dir: string;
let models: string;

/** A CSV of the demo (text,label; no quoted fields) as the dataset viewer's Parquet conversion of it. */
async function parquetOfCsv(path: string): Promise<Buffer> {
  const rows = (await readFile(path, 'utf8'))
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => [line.slice(0, line.lastIndexOf(',')), line.slice(line.lastIndexOf(',') + 1)]);
  return Buffer.from(
    parquetWriteBuffer({
      columnData: [
        { name: 'text', data: rows.map((r) => r[0]), type: 'STRING' },
        { name: 'label', data: rows.map((r) => r[1]), type: 'STRING' },
      ],
    }),
  );
}

beforeAll(async () => {
  hub = await startHubStandin({ tokens: { [READ]: { name: 'bob', role: 'read' }, [WRITE]: { name: 'alice', role: 'write' } } });
  dir = await mkdtemp(join(tmpdir(), 'esmselect-hub-e2e-'));
  models = join(dir, 'models');
  await mkdir(models);

  // The checkpoint without ONNX, renamed as bert-base-uncased was; a conversion that stops at last_hidden_state.
  const checkpoint = join(dir, 'checkpoint');
  await cp(join(MODELS_ROOT, 'tiny-bert'), checkpoint, { recursive: true });
  await rm(join(checkpoint, 'onnx'), { recursive: true });
  await publishFolder(hub, 'model', HUB_MODEL, checkpoint);
  hub.store.rename('model', MODEL, HUB_MODEL);
  const onnx = withoutOutputs(await readFile(join(MODELS_ROOT, 'tiny-bert', 'onnx', 'model.onnx')), ['pooler_output']);
  const tokenizer = Object.fromEntries(
    await Promise.all(['tokenizer.json', 'tokenizer_config.json', 'config.json'].map(async (f) => [f, await readFile(join(checkpoint, f))] as const)),
  );
  const conversion = hub.store.create('model', ONNX_REPO);
  hub.store.commit(conversion, 'main', { title: 'ONNX', files: { ...tokenizer, 'onnx/model.onnx': onnx } });

  // The pool: each demo ESM as hfselect publishes it, its config naming its Hub dataset.
  for (const source of SOURCES) {
    const folder = join(DEMO, 'esms', source);
    const demo = JSON.parse(await readFile(join(folder, 'config.json'), 'utf8')) as EsmConfig;
    const config: EsmConfig = {
      ...demo,
      base_model_name: MODEL,
      task_id: TASK(source),
      task_subset: null,
      task_split: 'train',
      text_column: 'text',
      label_column: 'label',
    };
    publishEsm(hub, { repoId: `esm-lab/${source}-esm`, config, weights: await readFile(join(folder, 'model.safetensors')) });
    addParquetConversion(hub, TASK(source), 'default', 'train', [await parquetOfCsv(join(DEMO, 'datasets', `${source}.csv`))]);
  }
  addParquetConversion(hub, 'me/target', 'default', 'train', [await parquetOfCsv(join(DEMO, 'target.csv'))]);
});
afterAll(async () => {
  await hub?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The built CLI in a child process (asynchronously: the stand-in answers from this process). */
function esmselect(args: readonly string[], env: NodeJS.ProcessEnv = {}, cwd = ROOT): Promise<Run> {
  const base: NodeJS.ProcessEnv = {
    ...process.env,
    ESMSELECT_DATA_DIR: join(dir, 'cli-data'),
    ESMSELECT_MODELS_DIR: models,
    HF_ENDPOINT: hub.endpoint,
    HF_TOKEN: READ,
  };
  for (const key of ['HF_HUB_OFFLINE', 'ESMSELECT_ALLOW_REMOTE']) delete base[key];
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), ...args], { cwd, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** One line on stderr and exit status 2. */
function expectOneLine(run: Run, pattern: RegExp): void {
  expect(run.stderr.trim().split('\n'), run.stderr).toHaveLength(1);
  expect(run.stderr.trim()).toMatch(pattern);
  expect(run.code).toBe(2);
}

/** Exit status 2 with the refusal as the last line, after what the command reported doing (no stack, no second error). */
function expectRefusal(run: Run, pattern: RegExp): void {
  const lines = run.stderr.trim().split('\n');
  expect(lines.at(-1), run.stderr).toMatch(pattern);
  expect(
    lines.filter((line) => !line.startsWith('esmselect: ')),
    run.stderr,
  ).toEqual([]);
  expect(run.code).toBe(2);
}

/** The base model as the README says to pull it; the service's tests use the same models directory. */
let pulledModel: Promise<Run> | undefined;
const pullBaseModel = () => (pulledModel ??= esmselect(['model', 'pull', MODEL, '--onnx-repo', ONNX_REPO]));

const TARGET_FLAGS = ['--dataset', TARGET, '--text-col', 'text', '--label-col', 'label', '--model', MODEL];
const ranked = (ranking: RankingResult) => ranking.ranking.map((t) => t.task_id);

describe('the CLI, from the Hub and back', () => {
  /** The top source of the ranking (registry#ID), and the ESM its fine-tune registers. */
  let top: string;
  let newEsm: number;

  it('model pull: the renamed base model, its ONNX from the conversion, the BERT pooler by range requests', async () => {
    const pulled = await pullBaseModel();
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(pulled.stderr).toContain(`note: ${MODEL} is ${HUB_MODEL} on the Hub; the folder keeps the name ${MODEL}`);
    expect(pulled.stdout).toMatch(
      new RegExp(
        `^pulled: ${MODEL} \\(${HUB_MODEL}@[0-9a-f]{12}; ONNX from ${ONNX_REPO}@[0-9a-f]{12}, BERT pooler from model\\.safetensors by range requests\\) in `,
      ),
    );
    expect((await readdir(join(models, MODEL))).sort()).toEqual([
      'config.json',
      'hub-pull.json',
      'onnx',
      'pooler.safetensors',
      'special_tokens_map.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'vocab.txt',
    ]);
  });

  it('esm pull --base-model: the published pool for the old name, registered with its provenance', async () => {
    const pulled = await esmselect(['esm', 'pull', '--base-model', MODEL]);
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(pulled.stdout.trim()).toBe(
      `${HUB_MODEL}: 4 repos: imported 4, skipped 0 (already registered), unchanged 0 (same commit as the last pull), rejected 0`,
    );
    const listed = JSON.parse((await esmselect(['esm', 'list', '--format', 'json'])).stdout) as { task_id: string; origin: string; base_model_name: string }[];
    expect(listed.map((e) => [e.task_id, e.base_model_name, e.origin.replace(/@[0-9a-f]{40}$/, '@sha')]).sort()).toEqual(
      SOURCES.map((s) => [TASK(s), MODEL, `hf://esm-lab/${s}-esm@sha`]).sort(),
    );
  });

  it('rank --esms hub of a Hub dataset: the published sources ranked as the demo ranks them, nothing downloaded again', async () => {
    const run = await esmselect(['rank', ...TARGET_FLAGS, '--esms', 'hub', '--format', 'json']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/hf:\/\/datasets\/me\/target \(subset default, split train; Parquet conversion [0-9a-f]{12}, .*\): 60 rows/);
    expect(run.stderr).toContain(`esmselect: ${HUB_MODEL}: 4 repos: imported 0, skipped 0 (already registered), unchanged 4`);
    const ranking = JSON.parse(run.stdout) as RankingResult;
    expect(ranking.target).toMatchObject({ n: 60, d: 32, task: 'classification' });
    expect(ranked(ranking)).toEqual(SOURCES.map(TASK));
    // The same ESMs from the demo's folders, the target from its file, the model bundled: the same scores.
    const local = await esmselect(
      [
        'rank',
        '--dataset',
        join(DEMO, 'target.csv'),
        '--text-col',
        'text',
        '--label-col',
        'label',
        '--model',
        'tiny-bert',
        '--esms',
        ...SOURCES.map((s) => join(DEMO, 'esms', s)),
        '--format',
        'json',
      ],
      {
        ESMSELECT_MODELS_DIR: MODELS_ROOT,
      },
    );
    expect(local.code, local.stderr).toBe(0);
    const scores = (r: RankingResult) => r.ranking.map((t) => t.score.toFixed(4));
    expect(scores(ranking)).toEqual(scores(JSON.parse(local.stdout) as RankingResult));
    expect(ranking.ranking[0].source).toMatch(/^registry#\d+$/);
    top = ranking.ranking[0].source;
  });

  it('finetune on the top published source, read from its Hub dataset, registers a new ESM', { timeout: 600_000 }, async () => {
    // Fine-tuning needs the checkpoint's weights: a pull without them says so; with --weights the ONNX stays.
    expectRefusal(
      await esmselect(['finetune', '--source', top, '--target', join(DEMO, 'target.csv'), '--epochs', '1']),
      /^esmselect: model: .*model\.safetensors is missing$/,
    );
    const weights = await esmselect(['model', 'pull', MODEL, '--weights']);
    expect(weights.code, weights.stderr).toBe(0);
    expect((await readdir(join(models, MODEL))).sort()).toEqual(expect.arrayContaining(['model.safetensors', 'onnx']));

    const out = join(dir, 'finetune');
    const run = await esmselect([
      'finetune',
      '--source',
      top,
      '--target',
      join(DEMO, 'target.csv'),
      '--epochs',
      '1',
      '--batch-size',
      '16',
      '--learning-rate',
      '0.003',
      '--out',
      out,
      '--format',
      'json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/source hf:\/\/datasets\/demo-tasks\/source-08 \(subset default, split train, Parquet conversion [0-9a-f]{12}\): 200 examples/);
    const registered = /ESM registered as #(\d+) \(demo-tasks\/source-08\)/.exec(run.stderr);
    expect(registered, run.stderr).not.toBeNull();
    newEsm = Number(registered![1]);
    const shown = JSON.parse((await esmselect(['esm', 'show', String(newEsm)])).stdout);
    expect(shown).toMatchObject({ task_id: TASK('source-08'), base_model_name: MODEL, esm_embedding_dim: 32 });
    // The base model still embeds (the --weights pull kept the ONNX it had).
    const again = await esmselect(['rank', ...TARGET_FLAGS, '--esms', 'hub', '--format', 'json']);
    expect(again.code, again.stderr).toBe(0);
  });

  it('esm push of the new ESM publishes it as hfselect does; esm search then finds it under the base model', async () => {
    const pushed = await esmselect(['esm', 'push', String(newEsm), '--repo', PUSHED], { HF_TOKEN: WRITE });
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stdout).toMatch(new RegExp(`^pushed #${newEsm} to ${hub.endpoint}/${PUSHED} \\(new repo, commit [0-9a-f]{12}\\)\\n$`));
    const repo = hub.store.get('model', PUSHED)!;
    const files = hub.store.head(repo).files;
    expect([...files.keys()].sort()).toEqual(['.gitattributes', 'README.md', 'config.json', 'model.safetensors']);
    expect(hub.store.cardData(repo)).toMatchObject({ base_model: MODEL, datasets: [TASK('source-08')], tags: ['embedding_space_map', `BaseLM:${MODEL}`] });
    expect(JSON.parse(files.get('config.json')!.blob.toString('utf8'))).toMatchObject({
      base_model_name: MODEL,
      task_id: TASK('source-08'),
      esm_embedding_dim: 32,
    });
    expect(files.get('model.safetensors')!.lfs).toBeDefined();
    expect(pushed.stdout + pushed.stderr).not.toContain(WRITE);

    const search = await esmselect(['esm', 'search', '--base-model', MODEL, '--format', 'json']);
    expect(search.code, search.stderr).toBe(0);
    const found = JSON.parse(search.stdout) as { repo_id: string; task_id: string; base_model: string }[];
    expect(found.map((e) => e.repo_id).sort()).toEqual([PUSHED, ...SOURCES.map((s) => `esm-lab/${s}-esm`)].sort());
    expect(found.find((e) => e.repo_id === PUSHED)).toMatchObject({ task_id: TASK('source-08'), base_model: HUB_MODEL });
  });

  it('refuses in one line: push without a token, a repo id that is not one, pull offline, rank --esms hub for a model the Hub does not know, a source not registered', async () => {
    expectOneLine(
      await esmselect(['esm', 'push', '1', '--repo', 'alice/x'], { HF_TOKEN: '' }),
      /^esmselect: esm push: publishing needs a token with write access in HF_TOKEN$/,
    );
    expectOneLine(
      await esmselect(['esm', 'pull', '--repo', 'esm-lab/source-08-esm', 'esm-lab/../etc']),
      /^esmselect: repo: "esm-lab\/\.\.\/etc" is not a repo id/,
    );
    expectOneLine(
      await esmselect(['esm', 'pull', '--base-model', MODEL], { HF_HUB_OFFLINE: '1' }),
      /^esmselect: esm pull needs the Hugging Face Hub, but HF_HUB_OFFLINE is set \(unset it to allow network access\)$/,
    );
    expectRefusal(
      await esmselect(['rank', ...TARGET_FLAGS, '--base-model', 'nobody/nothing', '--esms', 'hub']),
      /^esmselect: base model nobody\/nothing: not found on the Hub \(404/,
    );
    expectOneLine(await esmselect(['finetune', '--source', 'registry#999', '--target', join(DEMO, 'target.csv')]), /^esmselect: .*999/);
  });
});

/** `esmselect serve` (the built CLI) on loopback, reaching the stand-in through HF_ENDPOINT. */
interface Service {
  readonly url: string;
  readonly logs: () => string;
  stop(): Promise<void>;
}

async function serve(dataDir: string, env: NodeJS.ProcessEnv = {}): Promise<Service> {
  const base: NodeJS.ProcessEnv = { ...process.env, ESMSELECT_DATA_DIR: dataDir, ESMSELECT_MODELS_DIR: models, HF_ENDPOINT: hub.endpoint, HF_TOKEN: READ };
  for (const key of ['HF_HUB_OFFLINE', 'ESMSELECT_ALLOW_REMOTE', 'ESMSELECT_API_TOKEN', 'ESMSELECT_HOST', 'ESMSELECT_PORT']) delete base[key];
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), 'serve', '--host', '127.0.0.1', '--port', '0', '--no-demo'], {
    cwd: ROOT,
    env: { ...base, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      const serving = /serving (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (serving) resolve(serving[1]);
    });
    void closed.then(() => reject(new Error(`esmselect serve exited: ${stderr}`)));
  });
  return {
    url,
    logs: () => stderr,
    async stop() {
      child.kill('SIGTERM');
      await closed;
    },
  };
}

const post = (url: string, body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** Polls a job until it has ended. */
async function ended(service: Service, location: string): Promise<Record<string, any>> {
  for (;;) {
    const job = (await (await fetch(new URL(location, service.url))).json()) as Record<string, any>;
    if (!['queued', 'running'].includes(job.status)) return job;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** An RFC 9457 problem: its status, and the field it names. */
async function problem(response: Response): Promise<{ status: number; field?: string; detail: string }> {
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  const body = (await response.json()) as { status: number; field?: string; detail: string };
  expect(body.status).toBe(response.status);
  return body;
}

describe('the service, from the Hub and back', () => {
  let service: Service;
  beforeAll(async () => {
    // Base models are pulled from the CLI only (the service reads the models directory): with the weights, to fine-tune.
    expect((await pullBaseModel()).code).toBe(0);
    expect((await esmselect(['model', 'pull', MODEL, '--weights'])).code).toBe(0);
    service = await serve(join(dir, 'http-data'));
  });
  afterAll(async () => {
    await service?.stop();
  });

  /** registry#ID → the repo the pull registered it from. */
  let registered: Map<string, string>;
  /** The fine-tune handle of the best published source. */
  let top: { ranking_id: string; rank: number };

  it('POST /v1/sources/pull: the published pool for the old name, as a job', async () => {
    const created = await post(`${service.url}/v1/sources/pull`, { base_model: MODEL });
    expect(created.status).toBe(202);
    const job = await ended(service, created.headers.get('location')!);
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    // The pool as the Hub has it now: the four published ESMs, and the CLI's fine-tune when its part ran first.
    const pool = [...SOURCES.map(REPO), ...(hub.store.get('model', PUSHED) ? [PUSHED] : [])];
    expect(job.result).toMatchObject({ base_model: HUB_MODEL, repos: pool.length, imported: pool.length, rejected: 0 });
    registered = new Map(job.result.outcomes.map((o: { repo: string; source_id: number }) => [`registry#${o.source_id}`, o.repo]));
    expect([...registered.values()].sort()).toEqual(pool.sort());
    const sources = (await (await fetch(`${service.url}/v1/sources?base_model_name=${MODEL}`)).json()) as {
      total: number;
      items: { task_id: string; origin: string }[];
    };
    expect(sources.total).toBe(pool.length);
    expect(sources.items.map((s) => s.origin.replace(/^hf:\/\/(.*)@[0-9a-f]{40}$/, '$1')).sort()).toEqual(pool.sort());
  });

  it('POST /v1/rankings of the Hub dataset against the pulled ESMs: the demo ranking, with a fine-tune handle', async () => {
    const response = await post(`${service.url}/v1/rankings`, {
      dataset: TARGET,
      text_column: 'text',
      label_column: 'label',
      model: MODEL,
      filters: { base_model_name: MODEL },
    });
    expect([200, 202]).toContain(response.status);
    let job = (await response.json()) as Record<string, any>;
    if (response.status === 202) job = await ended(service, job.links.self);
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    expect(job.result.target).toMatchObject({ n: 60, d: 32, task: 'classification' });
    // The published four in the demo's order (the CLI's re-published fine-tune of source-08 may rank among them).
    const ranking = job.result.ranking as { task_id: string; source: string; rank: number; finetune: { ranking_id: string; rank: number } }[];
    const published = ranking.filter((t) => registered.get(t.source)?.startsWith('esm-lab/'));
    expect(published.map((t) => registered.get(t.source))).toEqual(SOURCES.map(REPO));
    expect(published[0].finetune).toEqual({ ranking_id: job.id, rank: published[0].rank });
    top = published[0].finetune;
  });

  it('POST /v1/finetunes on the top published source: read from its Hub dataset, the new ESM registered', { timeout: 600_000 }, async () => {
    const form = new FormData();
    form.set('target_file', new Blob([await readFile(join(DEMO, 'target.csv'))]), 'target.csv');
    const fast = JSON.stringify({ epochs: 1, batchSize: 16, learningRate: 3e-3 });
    for (const [key, value] of Object.entries({
      text_column: 'text',
      label_column: 'label',
      ranking_id: top.ranking_id,
      rank: String(top.rank),
      intermediate_settings: fast,
      target_settings: fast,
    }))
      form.set(key, value);
    const created = await fetch(`${service.url}/v1/finetunes`, { method: 'POST', body: form });
    expect(created.status).toBe(202);
    const request = ((await created.json()) as Record<string, any>).request;
    expect(request).toMatchObject({
      model: MODEL,
      source: {
        task_id: TASK('source-08'),
        rows: 200,
        rank: top.rank,
        hub: { dataset: `hf://datasets/${TASK('source-08')}`, subset: 'default', split: 'train' },
      },
    });
    const job = await ended(service, created.headers.get('location')!);
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    const esm = (await (await fetch(`${service.url}/v1/sources/${job.result.esm.source_id}`)).json()) as Record<string, any>;
    expect(esm).toMatchObject({ task_id: TASK('source-08'), base_model_name: MODEL, esm_embedding_dim: 32 });
  });

  it('refuses with problems naming the field: a bad repo id, a base model the Hub does not know, a Hub dataset that is not there', async () => {
    const bad = await problem(await post(`${service.url}/v1/sources/pull`, { repos: ['esm-lab/source-08-esm', 'esm-lab/../etc'] }));
    expect([bad.status, bad.field]).toEqual([422, 'repos.1']);
    expect(bad.detail).toContain('not a repo id');
    const created = await post(`${service.url}/v1/sources/pull`, { base_model: 'nobody/nothing' });
    const failed = await ended(service, created.headers.get('location')!);
    expect(failed).toMatchObject({ status: 'failed', error: { status: 422, field: 'base_model' } });
    expect(failed.error.detail).toMatch(/^base_model: base model nobody\/nothing: not found on the Hub/);
    const missing = await problem(
      await post(`${service.url}/v1/rankings`, { dataset: 'hf://datasets/me/none', text_column: 'text', label_column: 'label', model: MODEL }),
    );
    expect([missing.status, missing.field]).toEqual([422, 'dataset']);
    expect(missing.detail).toContain('no such dataset on the Hub');
    expect(service.logs()).not.toContain(READ);
  });

  it('with HF_HUB_OFFLINE=1: the pull is refused (503), a Hub dataset not in the cache too (409 naming dataset), without a request to the Hub', async () => {
    const offline = await serve(join(dir, 'http-offline'), { HF_HUB_OFFLINE: '1' });
    try {
      const before = hub.requests.length;
      const pull = await problem(await post(`${offline.url}/v1/sources/pull`, { base_model: MODEL }));
      expect(pull.status).toBe(503);
      expect(pull.detail).toMatch(/needs the Hugging Face Hub, but HF_HUB_OFFLINE is set/);
      const target = await problem(await post(`${offline.url}/v1/rankings`, { dataset: TARGET, text_column: 'text', label_column: 'label', model: MODEL }));
      expect([target.status, target.field]).toEqual([409, 'dataset']);
      expect(target.detail).toContain('HF_HUB_OFFLINE is set');
      expect(hub.requests.length).toBe(before);
    } finally {
      await offline.stop();
    }
  });
});

/**
 * The commands of the README's "real use" quick start, as written there (the shell block under
 * "## Real use"): comments dropped, continued lines joined. OWNER/NAME and ID are the README's
 * placeholders for what the user names and what an earlier step printed.
 */
async function quickStart(): Promise<string[][]> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const block = /^## Real use[^\n]*\n[\s\S]*?```sh\n([\s\S]*?)```/m.exec(readme);
  expect(block, 'README.md has a "## Real use" quick start').not.toBeNull();
  return block![1]
    .replace(/\s*\\\n\s*/g, ' ')
    .split('\n')
    .map((line) => line.replace(/(^|\s+)#.*$/, '').trim())
    .filter((line) => line !== '')
    .map((line) => {
      expect(line, 'a plain command, no quoting or shell syntax').toMatch(/^npx esmselect [\w./:#-]+( [\w./:#-]+)*$/);
      return line.split(/\s+/).slice(2);
    });
}

describe("the README's real-use quick start", () => {
  it('runs as written against the Hub, in a fresh data and models directory: model pull, rank a Hub dataset with --esms hub, fine-tune on the top source, then push its ESM as the text says', {
    timeout: 600_000,
  }, async () => {
    const commands = await quickStart();
    expect(commands.map((c) => c.slice(0, 2).join(' '))).toEqual(['model pull', 'rank --dataset', 'finetune --source']);
    const cwd = join(dir, 'quick-start');
    await mkdir(cwd);
    await cp(join(DEMO, 'target.csv'), join(cwd, 'my-target.csv'));
    const env = { ESMSELECT_DATA_DIR: join(cwd, 'data'), ESMSELECT_MODELS_DIR: join(cwd, 'models') };
    const run = async (args: string[], extra: NodeJS.ProcessEnv = {}) => {
      const done = await esmselect(args, { ...env, ...extra }, cwd);
      expect(done.code, `${args.join(' ')}: ${done.stderr}`).toBe(0);
      return done;
    };
    const [pull, rank, finetune] = commands;
    expect((await run(pull)).stdout).toMatch(new RegExp(`^pulled: ${MODEL} \\(${HUB_MODEL}@[0-9a-f]{12}; ONNX from ${ONNX_REPO}@`));
    // The user's Hub dataset is the demo target, published as me/target.
    const ranked = await run(rank.map((a) => a.replace('hf://datasets/OWNER/NAME', TARGET)));
    expect(ranked.stderr).toMatch(new RegExp(`${HUB_MODEL}: \\d+ repos: imported \\d+`));
    // The best source first, as the demo ranks the target (the pool may hold a re-published fine-tune of it too).
    const top = /demo-tasks\/source-\d+/.exec(ranked.stdout.split('\n').find((line) => /demo-tasks\//.test(line)) ?? '')?.[0];
    expect(top).toBe(TASK('source-08'));
    // Step 4's note: `esm list --task TASK` shows the id.
    const [esm] = JSON.parse((await run(['esm', 'list', '--task', top!, '--format', 'json'])).stdout) as { id: number }[];
    const tuned = await run(finetune.map((a) => a.replace('registry#ID', `registry#${esm.id}`)));
    const registered = /ESM registered as #(\d+)/.exec(tuned.stderr);
    expect(registered, tuned.stderr).not.toBeNull();
    // Step 3's note: `esm push ID --repo OWNER/NAME` publishes it.
    const push = /`npx esmselect (esm push ID --repo OWNER\/NAME)`/.exec(await readFile(join(ROOT, 'README.md'), 'utf8'));
    expect(push, 'README.md says how to publish the new ESM').not.toBeNull();
    const pushed = await run(
      push![1].split(' ').map((a) => (a === 'ID' ? registered![1] : a.replace('OWNER/NAME', 'alice/quick-start'))),
      { HF_TOKEN: WRITE },
    );
    expect(pushed.stdout).toMatch(new RegExp(`^pushed #${registered![1]} to ${hub.endpoint}/alice/quick-start `));
    expect(hub.store.cardData(hub.store.get('model', 'alice/quick-start')!)).toMatchObject({ base_model: MODEL, datasets: [TASK('source-08')] });
  });
});
