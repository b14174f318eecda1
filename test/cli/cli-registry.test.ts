import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHfselectEsm } from '../../src/esm/hfselect.js';
import { writeEmbeddingFile } from '../../src/io/embedding-files.js';
import { spawnTs } from '../helpers/processes.js';
import { randomGenerator } from '../helpers/random.js';
import { referenceDir } from '../helpers/reference.js';

const smallPool = join(referenceDir, 'esm-logme', 'small-pool');
let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'esmselect-cli-registry-'));
  env = { ESMSELECT_DATA_DIR: join(dir, 'data') };
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cli(...args: string[]) {
  const run = spawnTs('src/cli/main.ts', args, env);
  const { code } = await run.exited;
  return { code, stdout: run.stdout(), lines: run.lines };
}

/** One readable line, exit status 2, no stack trace. */
function expectUserError(run: { code: number | null; lines: string[] }, message: RegExp): void {
  expect(run.code).toBe(2);
  expect(run.lines).toHaveLength(1);
  expect(run.lines[0]).toMatch(/^esmselect: /);
  expect(run.lines[0]).toMatch(message);
}

describe('esmselect esm and rank --esms registry', () => {
  it('imports, lists with filters, ranks from the registry with the folder scores, exports, deletes', async () => {
    const imported = await cli('esm', 'import', join(smallPool, 'esms'));
    expect(imported.code).toBe(0);
    expect(imported.stdout).toBe('imported 8, skipped 0 (already registered), rejected 0\n');

    const listed = JSON.parse((await cli('esm', 'list', '--task', 'TASK-00', '--dim', '16', '--format', 'json')).stdout);
    expect(listed).toHaveLength(8);
    expect((await cli('esm', 'list', '--task', 'task-004', '--format', 'csv')).stdout.trim().split('\n')).toHaveLength(2);

    const fromFolders = JSON.parse(
      (await cli('rank', '--embeddings', join(smallPool, 'target'), '--esms', join(smallPool, 'esms'), '--format', 'json')).stdout,
    );
    const fromRegistry = JSON.parse(
      (await cli('rank', '--embeddings', join(smallPool, 'target'), '--esms', 'registry', '--base-model', 'synthetic/encoder-d16', '--format', 'json')).stdout,
    );
    expect(fromRegistry.ranking.map((t: { task_id: string; score: number }) => [t.task_id, t.score])).toEqual(
      fromFolders.ranking.map((t: { task_id: string; score: number }) => [t.task_id, t.score]),
    );
    const best = fromRegistry.ranking[0];
    expect(best.source).toMatch(/^registry#\d+$/);
    const id = best.source.slice('registry#'.length);

    const shown = JSON.parse((await cli('esm', 'show', id)).stdout);
    expect(shown).toMatchObject({ task_id: best.task_id, weights_path: `esms/${shown.weights_sha256}.safetensors` });
    expect((await cli('esm', 'export', id, join(dir, 'exported'))).code).toBe(0);
    const original = await loadHfselectEsm(shown.origin);
    expect((await loadHfselectEsm(join(dir, 'exported'))).weight).toEqual(original.weight);

    expect((await cli('esm', 'delete', id)).stdout).toBe(`deleted #${id} ${best.task_id}\n`);
    expectUserError(await cli('esm', 'show', id), new RegExp(`no ESM #${id} in the registry`));
    const none = await cli('rank', '--embeddings', join(smallPool, 'target'), '--esms', 'registry', '--base-model', 'nobody/has-this');
    expectUserError(none, /the pool is empty/);
  });

  it('trains and registers an ESM from two embedding files, reporting loss per epoch and held-out R²', async () => {
    const rng = randomGenerator(8);
    const base = rng.normals(200 * 8);
    await writeEmbeddingFile(join(dir, 'base.npy'), { rows: 200, dim: 8, data: base });
    await writeEmbeddingFile(join(dir, 'tuned.npy'), { rows: 200, dim: 8, data: Float32Array.from(base, (v) => 0.5 * v + 0.1 + 0.05 * rng.normal()) });
    await writeEmbeddingFile(join(dir, 'short.npy'), { rows: 100, dim: 8, data: base.subarray(0, 800) });
    const common = ['esm', 'train', '--base', join(dir, 'base.npy'), '--task-id', 'my/task', '--base-model', 'test/encoder-d8'];
    const trained = await cli(...common, '--tuned', join(dir, 'tuned.npy'), '--epochs', '60', '--language', 'en', '--export', join(dir, 'trained'));
    expect(trained.code).toBe(0);
    expect(trained.lines.filter((l) => /^epoch \d+\/60: loss \d/.test(l))).toHaveLength(60);
    expect(trained.stdout).toMatch(/^registered as #\d+ my\/task: held-out R² 0\.9\d+ on 20 pairs; exported to /);
    const exported = await loadHfselectEsm(join(dir, 'trained'));
    expect(exported.config).toMatchObject({ task_id: 'my/task', esm_num_epochs: 60, esm_learning_rate: 0.01, esm_optimizer: 'AdamW', language: 'en' });

    expectUserError(await cli(...common, '--tuned', join(dir, 'short.npy')), /^esmselect: tuned: 100 embeddings, but the base model has 200/);
    expectUserError(await cli('rank', '--embeddings', join(smallPool, 'target'), '--esms', join(smallPool, 'esms'), '--language', 'en'), /use --esms registry/);
    expectUserError(await cli('esm', 'delete', 'seven'), /"seven" is not an ESM id/);
  });
});
