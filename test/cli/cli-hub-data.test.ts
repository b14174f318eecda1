import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RankingResult } from '../../src/rank/ranking.js';
import { MODELS_ROOT } from '../helpers/finetune.js';
import { withoutOutputs } from '../helpers/hub/onnx.js';
import { parquetOf, reviews } from '../helpers/hub/parquet.js';
import { addParquetConversion, publishFolder } from '../helpers/hub/seed.js';
import { type HubStandin, startHubStandin } from '../helpers/hub/standin.js';
import { writeRandomPool } from '../helpers/pool.js';

/**
 * The CLI against the Hub stand-in, as a user runs it (the built dist/cli/main.js; `npx tsc -p
 * tsconfig.build.json` first): model pull, Hub datasets as targets, esm train with models pulled on
 * demand, a fine-tune on a published source, and the one-line refusals.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const REVIEWS = join(ROOT, 'test', 'fixtures', 'datasets', 'reviews.csv');

let hub: HubStandin;
let dir: string;
let pool: string;
let models: string;

beforeAll(async () => {
  hub = await startHubStandin();
  dir = await mkdtemp(join(tmpdir(), 'esmselect-cli-hub-'));
  models = join(dir, 'models');
  await mkdir(models);
  pool = join(dir, 'esms');
  await writeRandomPool(pool, 4, 32, 5);

  // tiny-bert as BERT is published: an ONNX export without pooler_output, the checkpoint beside.
  const published = join(dir, 'published');
  await cp(join(MODELS_ROOT, 'tiny-bert'), published, { recursive: true });
  await writeFile(join(published, 'onnx', 'model.onnx'), withoutOutputs(await readFile(join(published, 'onnx', 'model.onnx')), ['pooler_output']));
  await publishFolder(hub, 'model', 'google-bert/tiny-bert', published);
  hub.store.rename('model', 'tiny-bert', 'google-bert/tiny-bert');
  // A fine-tuned checkpoint as the Hub usually has one: config, weights and tokenizer, no ONNX.
  const tuned = join(dir, 'tuned');
  await cp(published, tuned, { recursive: true });
  await rm(join(tuned, 'onnx'), { recursive: true });
  await publishFolder(hub, 'model', 'org/tiny-bert-tuned', tuned);

  addParquetConversion(hub, 'org/reviews', 'default', 'train', [parquetOf(reviews(20)), parquetOf(reviews(20, 20))]);
  addParquetConversion(hub, 'org/reviews', 'default', 'test', [parquetOf(reviews(10, 40))]);
});
afterAll(async () => {
  await hub.close();
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The built CLI in a child process (asynchronously: the stand-in answers from this process). */
function esmselect(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const base: NodeJS.ProcessEnv = { ...process.env, ESMSELECT_DATA_DIR: join(dir, 'data'), ESMSELECT_MODELS_DIR: models, HF_ENDPOINT: hub.endpoint };
  for (const key of ['HF_HUB_OFFLINE', 'HF_TOKEN', 'ESMSELECT_ALLOW_REMOTE']) delete base[key];
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), ...args], {
    cwd: ROOT,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** One line on stderr and exit status 2. */
function expectOneLine(run: Run, pattern: RegExp): void {
  expect(run.stderr.trim().split('\n'), run.stderr).toHaveLength(1);
  expect(run.stderr.trim()).toMatch(pattern);
  expect(run.code).toBe(2);
}

const HUB_TARGET = ['--dataset', 'hf://datasets/org/reviews', '--text-col', 'text', '--label-col', 'label', '--model', 'tiny-bert'];

describe('esmselect with the Hub', () => {
  it('model pull, then ranks a Hub dataset with it offline-ready; the second time from the caches', async () => {
    const pulled = await esmselect(['model', 'pull', 'tiny-bert']);
    expect(pulled.stderr).toContain('note: tiny-bert is google-bert/tiny-bert on the Hub; the folder keeps the name tiny-bert');
    expect(pulled.code).toBe(0);
    expect(pulled.stdout).toMatch(
      /^pulled: tiny-bert \(google-bert\/tiny-bert@[0-9a-f]{12}; ONNX from google-bert\/tiny-bert@[0-9a-f]{12}, BERT pooler from model\.safetensors by range requests\) in /,
    );
    expect((await esmselect(['model', 'pull', 'tiny-bert'])).stdout).toMatch(/^already up to date: tiny-bert/);

    const first = await esmselect(['rank', ...HUB_TARGET, '--esms', pool, '--format', 'json']);
    expect(first.stderr).toMatch(
      /esmselect: hf:\/\/datasets\/org\/reviews \(subset default, split train; Parquet conversion [0-9a-f]{12}, \d+(\.\d)? KB downloaded\): 40 rows/,
    );
    expect(first.code, first.stderr).toBe(0);
    const ranking = JSON.parse(first.stdout) as RankingResult;
    expect(ranking.target).toMatchObject({ n: 40, d: 32 });
    expect(ranking.ranking).toHaveLength(4);

    // Offline: the dataset and the model come from the caches, the same ranking.
    const offline = await esmselect(['rank', ...HUB_TARGET, '--esms', pool, '--format', 'json'], { HF_HUB_OFFLINE: '1' });
    expect(offline.stderr).toContain('from the cache): 40 rows');
    expect(offline.stderr).toContain('embeddings from the cache');
    expect(JSON.parse(offline.stdout).ranking).toEqual(ranking.ranking);

    const embedded = await esmselect(['embed', ...HUB_TARGET, '--split', 'test', '--num-examples', '6', '--out', join(dir, 'test.npy')]);
    expect(embedded.code, embedded.stderr).toBe(0);
    expect(embedded.stderr).toMatch(/hf:\/\/datasets\/org\/reviews \(subset default, split test; .*\): 10 rows, sampled 6/);
    expect(JSON.parse(await readFile(join(dir, 'test.npy.labels.json'), 'utf8'))).toHaveLength(6);
  });

  it('refuses in one line: offline without a cached copy, unknown split, unknown model, a subset for a file', async () => {
    expectOneLine(
      await esmselect(['model', 'pull', 'other/model'], { HF_HUB_OFFLINE: '1' }),
      /^esmselect: model pull other\/model needs the Hugging Face Hub, but HF_HUB_OFFLINE is set/,
    );
    expectOneLine(
      await esmselect(['rank', ...HUB_TARGET, '--split', 'validation', '--esms', pool]),
      /^esmselect: split: hf:\/\/datasets\/org\/reviews \(subset default\) has no split "validation"; its splits are "test", "train"$/,
    );
    expectOneLine(
      await esmselect(['rank', ...HUB_TARGET, '--dataset', 'hf://datasets/org/elsewhere', '--esms', pool], { HF_HUB_OFFLINE: '1' }),
      /HF_HUB_OFFLINE is set/,
    );
    expectOneLine(await esmselect(['model', 'pull', 'nobody/none']), /^esmselect: model: nobody\/none: no such model on the Hub/);
    expectOneLine(
      await esmselect([
        'embed',
        '--dataset',
        REVIEWS,
        '--subset',
        'x',
        '--text-col',
        'text',
        '--label-col',
        'label',
        '--model',
        'tiny-bert',
        '--out',
        join(dir, 'x.npy'),
      ]),
      /subset: goes with a Hub dataset/,
    );
  });

  it('batch-rank takes Hub datasets in its manifest', async () => {
    const manifest = join(dir, 'targets.yaml');
    await writeFile(
      manifest,
      'model: tiny-bert\ntargets:\n  - dataset: hf://datasets/org/reviews\n    text_column: text\n    label_column: label\n  - dataset: hf://datasets/org/reviews\n    split: test\n    text_column: text\n    label_column: label\n',
    );
    const run = await esmselect(['batch-rank', '--targets', manifest, '--esms', pool, '--out', join(dir, 'batch')]);
    expect(run.code, run.stderr).toBe(0);
    const single = (await readFile(join(dir, 'batch', 'rankings', 'reviews.csv'), 'utf8')).trim().split('\n');
    expect(single).toHaveLength(5);
    expect((await readFile(join(dir, 'batch', 'rankings', 'reviews-test.csv'), 'utf8')).trim().split('\n')).toHaveLength(5);
  });

  it('esm train pulls a safetensors-only fine-tuned model and trains on a Hub dataset; finetune then takes that published source from the Hub', async () => {
    const trained = await esmselect([
      'esm',
      'train',
      '--dataset',
      'hf://datasets/org/reviews',
      '--text-col',
      'text',
      '--label-col',
      'label',
      '--base-model',
      'tiny-bert',
      '--tuned-model',
      'org/tiny-bert-tuned',
      '--epochs',
      '2',
      '--format',
      'json',
    ]);
    expect(trained.code, trained.stderr).toBe(0);
    expect(trained.stderr).toContain('note: org/tiny-bert-tuned has no ONNX export: taking model.safetensors, for the TensorFlow.js encoder');
    expect(trained.stderr).toContain('embedded with tiny-bert (ONNX) and org/tiny-bert-tuned (TensorFlow.js encoder)');
    const { id } = JSON.parse(trained.stdout) as { id: number };
    const shown = JSON.parse((await esmselect(['esm', 'show', String(id)])).stdout);
    expect(shown).toMatchObject({
      task_id: 'org/reviews',
      task_subset: 'default',
      task_split: 'train',
      base_model_name: 'tiny-bert',
      text_column: 'text',
      label_column: 'label',
      num_examples: 40,
    });

    // Fine-tuning needs the whole checkpoint: pull it with --weights, then fine-tune on the ESM's source.
    expectOneLine(
      await esmselect(['esm', 'train', '--base', 'x.npy', '--dataset', REVIEWS, '--base-model', 'tiny-bert']),
      /give either --base and --tuned .* or --dataset with --tuned-model/,
    );
    expect((await esmselect(['model', 'pull', 'tiny-bert', '--weights'])).code).toBe(0);
    const finetuned = await esmselect([
      'finetune',
      '--source',
      `registry#${id}`,
      '--target',
      REVIEWS,
      '--epochs',
      '1',
      '--batch-size',
      '16',
      '--learning-rate',
      '0.003',
      '--out',
      join(dir, 'finetune'),
      '--format',
      'json',
    ]);
    expect(finetuned.code, finetuned.stderr).toBe(0);
    expect(finetuned.stderr).toMatch(/source hf:\/\/datasets\/org\/reviews \(subset default, split train, Parquet conversion [0-9a-f]{12}\): 40 examples/);
    const job = JSON.parse(await readFile(join(dir, 'finetune', 'job.json'), 'utf8'));
    expect(job.inputs.source.hub).toMatchObject({
      dataset: 'hf://datasets/org/reviews',
      subset: 'default',
      split: 'train',
      revision: hub.store.get('dataset', 'org/reviews')!.branches.get('refs/convert/parquet'),
    });
    expect(JSON.parse(finetuned.stdout).intermediate.task).toBe('org/reviews');
  });
});
