import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeEmbeddingFile } from '../../src/io/embedding-files.js';
import { type CliRun, runCli } from '../helpers/cli.js';
import { writeRandomPool } from '../helpers/pool.js';
import { randomGenerator } from '../helpers/random.js';
import { referenceDir } from '../helpers/reference.js';

const smallPool = join(referenceDir, 'esm-logme', 'small-pool');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'esmselect-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** One readable line on stderr, exit status 2, no stack trace. */
function expectUserError(run: CliRun, message: RegExp): void {
  expect(run.status).toBe(2);
  const lines = run.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^esmselect: /);
  expect(lines[0]).toMatch(message);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}

describe('esmselect rank', () => {
  it('prints a JSON ranking scripts can consume', () => {
    const run = runCli(['rank', '--embeddings', join(smallPool, 'target'), '--esms', join(smallPool, 'esms'), '--format', 'json', '--top', '3']);
    expect(run.status).toBe(0);
    const output = JSON.parse(run.stdout);
    expect(output.ranking).toHaveLength(3);
    expect(output.ranking[0]).toMatchObject({ rank: 1, task_id: 'synthetic/task-004' });
    expect(Object.keys(output.ranking[0])).toEqual(
      expect.arrayContaining(['task_subset', 'text_column', 'label_column', 'task_split', 'num_examples', 'score']),
    );
  });

  it('reads .npy embeddings with a separate label file and prints CSV', async () => {
    const rng = randomGenerator(3);
    await writeEmbeddingFile(join(dir, 'x.npy'), { rows: 30, dim: 8, data: rng.normals(240) });
    await writeFile(join(dir, 'labels.txt'), Array.from({ length: 30 }, (_, i) => (i % 3 === 0 ? 'spam' : 'ham')).join('\n'));
    await writeRandomPool(join(dir, 'pool8'), 3, 8);
    const run = runCli(['rank', '--embeddings', join(dir, 'x.npy'), '--labels', join(dir, 'labels.txt'), '--esms', join(dir, 'pool8'), '--format', 'csv']);
    expect(run.status).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toBe('rank,task_id,task_subset,text_column,label_column,task_split,num_examples,score');
    expect(lines).toHaveLength(4);
  });

  it('fails clearly when every ESM has the wrong dimension', async () => {
    await writeRandomPool(join(dir, 'pool5'), 2, 5);
    expectUserError(
      runCli(['rank', '--embeddings', join(smallPool, 'target'), '--esms', join(dir, 'pool5')]),
      /ESM dimension 5 does not match the target embeddings' 16/,
    );
  });

  it('fails clearly on an empty label file', async () => {
    await writeFile(join(dir, 'empty.json'), '');
    expectUserError(
      runCli(['rank', '--embeddings', join(smallPool, 'target'), '--labels', join(dir, 'empty.json'), '--esms', join(smallPool, 'esms')]),
      /labels: .*is empty/,
    );
  });

  it('fails clearly when the labels hold one class only', async () => {
    await writeFile(join(dir, 'one-class.json'), JSON.stringify(Array(64).fill(1)));
    expectUserError(
      runCli(['rank', '--embeddings', join(smallPool, 'target'), '--labels', join(dir, 'one-class.json'), '--esms', join(smallPool, 'esms')]),
      /only one class/,
    );
  });

  it('fails clearly on NaN in the embeddings, naming row and column', async () => {
    const data = randomGenerator(4).normals(20 * 16);
    data[5 * 16 + 7] = NaN;
    await writeEmbeddingFile(join(dir, 'nan.f32'), { rows: 20, dim: 16, data });
    await writeFile(join(dir, 'nan-labels.json'), JSON.stringify(Array.from({ length: 20 }, (_, i) => i % 2)));
    expectUserError(
      runCli(['rank', '--embeddings', join(dir, 'nan.f32'), '--labels', join(dir, 'nan-labels.json'), '--esms', join(smallPool, 'esms')]),
      /row 5, column 7 is not a finite number/,
    );
  });

  it('fails clearly on a directory without ESMs', async () => {
    await mkdir(join(dir, 'no-esms', 'sub'), { recursive: true });
    expectUserError(runCli(['rank', '--embeddings', join(smallPool, 'target'), '--esms', join(dir, 'no-esms')]), /no ESM folders/);
  });

  it('fails clearly when labels and embeddings disagree in length', async () => {
    await writeFile(join(dir, 'short.json'), JSON.stringify([0, 1, 0]));
    expectUserError(
      runCli(['rank', '--embeddings', join(smallPool, 'target'), '--labels', join(dir, 'short.json'), '--esms', join(smallPool, 'esms')]),
      /3 labels for 64 embedding rows/,
    );
  });

  it('skips an unusable ESM with one warning line and ranks the rest', async () => {
    await cp(join(smallPool, 'esms'), join(dir, 'partly-broken'), { recursive: true });
    await writeFile(join(dir, 'partly-broken', 'synthetic__task-003', 'model.safetensors'), 'not safetensors');
    const run = runCli(['rank', '--embeddings', join(smallPool, 'target'), '--esms', join(dir, 'partly-broken'), '--format', 'json']);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout).ranking).toHaveLength(7);
    expect(run.stderr).toMatch(/skipped .*synthetic__task-003: model\.safetensors/);
  });

  it('rejects a bad option value through commander', () => {
    const run = runCli(['rank', '--embeddings', 'x', '--esms', 'y', '--top', 'zero']);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/--top/);
  });
});
