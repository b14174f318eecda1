import { utimesSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BatchEvent, type BatchRankOptions, batchRank } from '../../src/batch/batch.js';
import { readManifest } from '../../src/batch/manifest.js';
import { decodeBatchTarget, encodeBatchTarget, loadBatchTarget } from '../../src/batch/targets.js';
import { UserInputError } from '../../src/errors.js';
import { writeEmbeddingFile } from '../../src/io/embedding-files.js';
import { rank } from '../../src/rank/rank.js';
import { typescriptScorer } from '../../src/rank/ranking.js';
import { importEsmFolders } from '../../src/registry/import.js';
import { openBatchRun, readBatchUnits, saveBatchUnit } from '../../src/store/batches.js';
import { openRegistry, type Registry } from '../../src/store/database.js';
import { readTree } from '../helpers/files.js';
import { writeJson, writeRandomPool } from '../helpers/pool.js';
import { randomGenerator } from '../helpers/random.js';

let dir: string;
let pool: string;
let registry: Registry;
const D = 16;

/** Random targets at D = 16: two classification (n > D and n < D), one regression. */
async function writeTargets(base: string, seed = 5): Promise<string> {
  await mkdir(base, { recursive: true });
  const rng = randomGenerator(seed);
  const shapes = [
    { name: 'alpha', n: 60, labels: (i: number) => ['x', 'y', 'z'][i % 3] },
    { name: 'beta', n: 12, labels: (i: number) => i % 2 },
    { name: 'gamma', n: 40, labels: () => rng.normal() },
  ];
  const lines: string[] = ['targets:'];
  for (const { name, n, labels } of shapes) {
    await writeEmbeddingFile(join(base, `${name}.npy`), { rows: n, dim: D, data: rng.normals(n * D) });
    await writeJson(
      join(base, `${name}.labels.json`),
      Array.from({ length: n }, (_, i) => labels(i)),
    );
    lines.push(`  - name: ${name}`, `    embeddings: ${name}.npy`, `    labels: ${name}.labels.json`);
    if (name === 'gamma') lines.push('    task_type: regression');
  }
  const manifest = join(base, 'targets.yaml');
  await writeFile(manifest, `${lines.join('\n')}\n`);
  return manifest;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'esmselect-batch-'));
  pool = join(dir, 'pool');
  await writeRandomPool(pool, 10, D, 3);
  // One ESM of another dimension and one broken folder: rejected per target, as rank() rejects them.
  await writeRandomPool(join(pool, 'other-dim'), 1, 8, 4);
  await mkdir(join(pool, 'broken'), { recursive: true });
  await writeFile(join(pool, 'broken', 'config.json'), '{ not json');
  await writeFile(join(pool, 'broken', 'model.safetensors'), 'x');
  registry = openRegistry({ dataDir: join(dir, 'data') });
});
afterAll(async () => {
  registry.close();
  await rm(dir, { recursive: true, force: true });
});

function options(manifest: string, out: string, extra: Partial<BatchRankOptions> = {}): BatchRankOptions {
  return { targets: manifest, esms: { folders: [pool] }, out, registry, scorer: typescriptScorer, shardSize: 3, ...extra };
}

describe('batch manifest', () => {
  it('reads YAML and JSONL, resolving paths against the manifest and deriving names', async () => {
    const base = join(dir, 'manifests');
    await mkdir(base, { recursive: true });
    await writeFile(
      join(base, 'm.yaml'),
      'model: tiny-bert\ntargets:\n  - dataset: data/reviews.csv\n    text_column: [title, text]\n    label_column: label\n    num_examples: 10\n  - name: pre\n    embeddings: /abs/x.npy\n',
    );
    const yaml = await readManifest(join(base, 'm.yaml'));
    expect(yaml).toEqual([
      {
        name: 'reviews',
        dataset: join(base, 'data', 'reviews.csv'),
        text_column: ['title', 'text'],
        label_column: 'label',
        num_examples: 10,
        model: 'tiny-bert',
      },
      { name: 'pre', embeddings: '/abs/x.npy' },
    ]);
    await writeFile(
      join(base, 'm.jsonl'),
      '{"embeddings": "e.npy", "task_type": "regression"}\n\n{"dataset": "d.csv", "text_column": "t", "label_column": "l", "model": "m"}\n',
    );
    const jsonl = await readManifest(join(base, 'm.jsonl'));
    expect(jsonl.map((t) => t.name)).toEqual(['e', 'd']);
    expect(jsonl[0]).toMatchObject({ embeddings: join(base, 'e.npy'), task_type: 'regression' });
  });

  it.each([
    ['m1.yaml', 'targets: 3\n', /m1\.yaml: expected a list of targets/],
    ['m2.yaml', '- embeddings: a.npy\n  labels: l.json\n  colour: red\n', /entry 1: unknown field "colour"/],
    ['m3.yaml', '- text_column: t\n', /entry 1: needs "dataset" \(a file to embed\) or "embeddings"/],
    ['m4.yaml', '- dataset: d.csv\n  label_column: l\n  model: m\n', /entry 1: text_column: /],
    ['m5.yaml', '- dataset: d.csv\n  text_column: t\n  label_column: l\n', /entry 1: "model" is needed to embed/],
    ['m6.yaml', '- embeddings: a/x.npy\n- embeddings: b/x.npy\n', /entry 2: the name "x" is taken by entry 1/],
    ['m7.yaml', '- name: ../up\n  embeddings: a.npy\n', /entry 1: name: must start with a letter or digit/],
    ['m8.yaml', '- embeddings: a.npy\n  task_type: ranking\n', /entry 1: task_type: /],
    ['m9.jsonl', '{"embeddings": "a.npy"}\n{"embeddings": \n', /line 2 is not valid JSON/],
    ['m10.yaml', 'targets: [\n', /is not valid YAML/],
    ['m11.yaml', 'targets: []\n', /lists no targets/],
    ['m12.csv', '', /unknown manifest format/],
  ])('refuses %s with one line naming the entry and field', async (name, text, message) => {
    const path = join(dir, 'manifests', name);
    await writeFile(path, text);
    const error = await readManifest(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserInputError);
    expect((error as Error).message).toMatch(/^targets: /);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });
});

describe('batch targets', () => {
  it('round-trip through the bytes workers receive, and refuse bytes that do not match the fingerprint', async () => {
    const manifest = await readManifest(await writeTargets(join(dir, 'roundtrip')));
    const { target } = await loadBatchTarget(manifest[2]);
    const bytes = encodeBatchTarget(target);
    const decoded = decodeBatchTarget(bytes, target.fingerprint);
    expect(decoded).toEqual(target);
    bytes[bytes.length - 1] ^= 1;
    expect(() => decodeBatchTarget(bytes, target.fingerprint)).toThrow(/does not match its fingerprint/);
  });

  it('names the target in label problems', async () => {
    const base = join(dir, 'one-class');
    await mkdir(base, { recursive: true });
    await writeEmbeddingFile(join(base, 'x.npy'), { rows: 4, dim: D, data: randomGenerator(1).normals(4 * D) });
    await writeJson(join(base, 'l.json'), [1, 1, 1, 1]);
    await expect(loadBatchTarget({ name: 'solo', embeddings: join(base, 'x.npy'), labels: join(base, 'l.json') })).rejects.toThrow(
      /^targets: solo: labels: only one class/,
    );
  });
});

describe('batchRank', () => {
  it("gives every target exactly rank()'s ranking and rejections, and writes CSV, JSONL, Parquet, summaries and a report", async () => {
    const manifest = await writeTargets(join(dir, 'full'));
    const out = join(dir, 'out-full');
    const result = await batchRank(options(manifest, out));
    // 12 folders in shards of 3: 4 shards × 3 targets.
    expect(result).toMatchObject({ targets: 3, esms: 12, units: 12, computed: 12, pairs: 36, scorer: 'typescript' });

    for (const target of await readManifest(manifest)) {
      const expected = await rank({
        embeddings: 'embeddings' in target ? target.embeddings : '',
        labels: 'labels' in target ? target.labels : undefined,
        task: target.task_type,
        esms: [pool],
        scorer: typescriptScorer,
      });
      const lines = (await readFile(join(out, 'rankings', `${target.name}.jsonl`), 'utf8')).trim().split('\n');
      // Batch ranking is exhaustive, so its tasks have no first-stage similarity to report.
      expect(lines.map((l) => JSON.parse(l))).toEqual(expected.ranking.map(({ similarity, ...task }) => task));
      const rows = await parquetReadObjects({ file: await asyncBufferFromFile(join(out, 'rankings', `${target.name}.parquet`)) });
      expect(rows.map((r) => [r.rank, r.task_id, r.score, r.source, r.num_examples])).toEqual(
        expected.ranking.map((t) => [t.rank, t.task_id, t.score, t.source, t.num_examples]),
      );
      const csv = await readFile(join(out, 'rankings', `${target.name}.csv`), 'utf8');
      expect(csv.split('\n')[1]).toBe(`1,${expected.ranking[0].task_id},,text,label,train,100,${expected.ranking[0].score}`);
      const index = JSON.parse(await readFile(join(out, 'batch.json'), 'utf8'));
      const entry = index.targets.find((t: { name: string }) => t.name === target.name);
      expect(entry.rejected).toEqual(expected.rejected);
      expect(entry.scored).toBe(10);
    }

    const summary = (await readFile(join(out, 'summary.csv'), 'utf8')).trim().split('\n');
    expect(summary[0].split(',')[0]).toBe('target');
    expect(summary.slice(1).map((l) => l.split(',')[0])).toEqual(['alpha', 'beta', 'gamma']);
    // Every target's own best source is a column, with rank 1 in its row.
    const columns = summary[0].split(',');
    for (const [i, line] of summary.slice(1).entries()) {
      const best = JSON.parse((await readFile(join(out, 'rankings', `${['alpha', 'beta', 'gamma'][i]}.jsonl`), 'utf8')).split('\n')[0]);
      expect(line.split(',')[columns.indexOf(best.task_id)]).toBe('1');
    }
    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    // One heat-map cell per target × column, each with its rank in a tooltip.
    expect(html.match(/: rank \d+, score /g)).toHaveLength(3 * (columns.length - 1));
  });

  it('resumes after an interruption and writes the same bytes as an uninterrupted run', async () => {
    const manifest = await writeTargets(join(dir, 'resume'));
    const whole = join(dir, 'out-whole');
    await batchRank(options(manifest, whole));

    const out = join(dir, 'out-resumed');
    const controller = new AbortController();
    const seen: BatchEvent[] = [];
    const interrupted = batchRank(
      options(manifest, out, {
        signal: controller.signal,
        onEvent: (event) => {
          seen.push(event);
          if (event.type === 'progress' && event.progress.units.done === 5) controller.abort();
        },
      }),
    );
    await expect(interrupted).rejects.toThrow();
    const again = await batchRank(options(manifest, out, { onEvent: (event) => seen.push(event) }));
    expect(again.computed).toBe(7);
    const plans = seen.filter((e) => e.type === 'plan');
    expect(plans.map((p) => p.progress.units.done)).toEqual([0, 5]);
    expect(await readTree(out)).toEqual(await readTree(whole));
  });

  it('refuses an output directory that holds another plan, saying what changed, until --restart', async () => {
    const base = join(dir, 'changed');
    const manifest = await writeTargets(base);
    const out = join(dir, 'out-changed');
    await batchRank(options(manifest, out));
    await writeJson(
      join(base, 'beta.labels.json'),
      Array.from({ length: 12 }, (_, i) => (i < 6 ? 0 : 1)),
    );
    await expect(batchRank(options(manifest, out))).rejects.toThrow(/^out: .* holds checkpoints of another batch \(targets changed: "beta"\); use --restart/);
    await expect(batchRank(options(manifest, out, { shardSize: 4 }))).rejects.toThrow(/shard size 3 before, 4 now/);
    const restarted = await batchRank(options(manifest, out, { restart: true }));
    expect(restarted.computed).toBe(12);
  });

  it('ranks the registered ESMs (found by identity) as it ranks their folders', async () => {
    const manifest = await writeTargets(join(dir, 'registry-pool'));
    const data = openRegistry({ dataDir: join(dir, 'data-registry-pool') });
    try {
      await importEsmFolders(data, [pool]);
      const fromFolders = await batchRank(options(manifest, join(dir, 'out-folders')));
      const fromRegistry = await batchRank({ ...options(manifest, join(dir, 'out-registry')), registry: data, esms: { registry: { esm_embedding_dim: D } } });
      expect(fromRegistry).toMatchObject({ esms: 10, computed: 12 });
      expect(fromFolders.esms).toBe(12);
      for (const name of ['alpha', 'beta', 'gamma']) {
        const ranking = async (out: string) =>
          (await readFile(join(dir, out, 'rankings', `${name}.jsonl`), 'utf8'))
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l))
            .map((t) => [t.task_id, t.score]);
        expect(await ranking('out-registry')).toEqual(await ranking('out-folders'));
      }
    } finally {
      data.close();
    }
  });

  it('stops when an ESM changes under a running batch, and then refuses the changed pool until --restart', async () => {
    const manifest = await writeTargets(join(dir, 'pool-changes'));
    const copy = join(dir, 'pool-copy');
    await cp(pool, copy, { recursive: true, preserveTimestamps: true });
    const out = join(dir, 'out-pool-changes');
    const touch = () => utimesSync(join(copy, 'task-009', 'model.safetensors'), new Date(), new Date(2001, 0, 1));
    const run = batchRank({ ...options(manifest, out), esms: { folders: [copy] }, onEvent: (event) => event.type === 'plan' && touch() });
    await expect(run).rejects.toThrow(/^esms: .*task-009 changed since the batch was planned/);
    await expect(batchRank({ ...options(manifest, out), esms: { folders: [copy] } })).rejects.toThrow(/the pool changed \(12 ESMs before, 12 now\)/);
    expect((await batchRank({ ...options(manifest, out), esms: { folders: [copy] }, restart: true })).computed).toBe(12);
  });

  it('refuses a target whose dimension no ESM of the pool has, before any work', async () => {
    const base = join(dir, 'dims');
    await mkdir(base, { recursive: true });
    await writeEmbeddingFile(join(base, 'wide.npy'), { rows: 30, dim: 20, data: randomGenerator(2).normals(600) });
    await writeJson(
      join(base, 'l.json'),
      Array.from({ length: 30 }, (_, i) => i % 2),
    );
    const targets = [{ name: 'wide', embeddings: join(base, 'wide.npy'), labels: join(base, 'l.json') }];
    await expect(batchRank({ ...options('', join(dir, 'out-dims')), targets })).rejects.toThrow(
      /targets: wide: its embeddings have dimension 20, but no ESM of the pool does \(the pool's: 8, 16\)/,
    );
  });
});

describe('batch checkpoints', () => {
  it('keep the first delivery of a unit: a second one writes nothing', () => {
    const { run } = openBatchRun(registry, { outDir: join(dir, 'dup'), fingerprint: 'f', plan: {} }, false);
    const unit = { target: 't', shard: 0, scores: Float64Array.of(1.5, NaN), problems: { 1: 'bad' }, worker: 'a', seconds: 1 };
    expect(saveBatchUnit(registry, run.id, unit)).toBe('saved');
    expect(saveBatchUnit(registry, run.id, { ...unit, scores: Float64Array.of(9, 9), problems: null, worker: 'b' })).toBe('duplicate');
    const [stored, ...rest] = readBatchUnits(registry, run.id);
    expect(rest).toEqual([]);
    expect(stored).toMatchObject({ target: 't', shard: 0, problems: { 1: 'bad' }, worker: 'a' });
    expect(Array.from(stored.scores)).toEqual([1.5, NaN]);
  });
});
