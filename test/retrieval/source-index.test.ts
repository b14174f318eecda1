import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rank } from '../../src/rank/rank.js';
import { prepareTarget } from '../../src/rank/target.js';
import { rankTwoStage } from '../../src/rank/two-stage.js';
import { deleteEsms, registerEsm } from '../../src/registry/esms.js';
import { importEsmFolders } from '../../src/registry/import.js';
import { registryPool } from '../../src/registry/pool.js';
import { HnswIndex } from '../../src/retrieval/hnsw-index.js';
import { indexPath, openSourceIndex, sourceIndexStatus, updateSourceIndexes } from '../../src/retrieval/source-index.js';
import { meanDirection } from '../../src/retrieval/textemb.js';
import { openRegistry, type Registry } from '../../src/store/database.js';
import { listEsms } from '../../src/store/esms.js';
import { getRankingRun, recordRankingRun } from '../../src/store/rankings.js';
import { putSourceVectors } from '../../src/store/source-vectors.js';
import { encodeLabels } from '../../src/task/labels.js';
import { randomEsm, writeRandomPool } from '../helpers/pool.js';
import { randomGenerator } from '../helpers/random.js';

const DIM = 16;
const SOURCES = 30;
const SPACE = { model: 'test/encoder', pooling: 'mean' };

let dir: string;
let registry: Registry;
/** Each registered ESM's synthetic TextEmb vector, by registry id. */
let vectors: Map<number, Float32Array>;

function unit(v: Float32Array): Float32Array {
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

function reopen(): void {
  registry.close();
  registry = openRegistry({ dataDir: join(dir, 'data') });
}

function target(seed = 7) {
  const rng = randomGenerator(seed);
  const rows = 80;
  const embeddings = { rows, dim: DIM, data: rng.normals(rows * DIM) };
  return { embeddings, labels: Array.from({ length: rows }, (_, i) => i % 3) };
}

/** The sources ordered by exact cosine to the target's mean direction, best first. */
function byCosine(query: Float32Array, ids: readonly number[]): number[] {
  const cos = (id: number) => vectors.get(id)!.reduce((s, x, k) => s + x * query[k], 0);
  return [...ids].sort((a, b) => cos(b) - cos(a));
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'esmselect-index-'));
  registry = openRegistry({ dataDir: join(dir, 'data') });
  await writeRandomPool(join(dir, 'pool'), SOURCES, DIM);
  await importEsmFolders(registry, [join(dir, 'pool')]);
  vectors = new Map();
  const rng = randomGenerator(99);
  for (const { id, identity } of listEsms(registry)) {
    const vector = unit(rng.normals(DIM));
    vectors.set(id, vector);
    putSourceVectors(registry, [identity], { ...SPACE, vector, texts: 10, texts_sha256: 'texts' });
  }
  updateSourceIndexes(registry);
});
afterEach(async () => {
  registry.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the HNSW index of a space', () => {
  it('survives a restart: the saved index is verified and used, not rebuilt', () => {
    const query = unit(randomGenerator(3).normals(DIM));
    const before = openSourceIndex(registry, SPACE).index.search(query, 5);
    reopen();
    const { index, rebuilt } = openSourceIndex(registry, SPACE);
    expect(rebuilt).toBeNull();
    expect(index.size).toBe(SOURCES);
    expect(index.search(query, 5)).toEqual(before);
    expect(before.map((n) => n.label)).toEqual(byCosine(query, [...vectors.keys()]).slice(0, 5));
    expect(before[0].similarity).toBeCloseTo(
      vectors.get(before[0].label)!.reduce((s, x, k) => s + x * query[k], 0),
      5,
    );
  });

  it('marks deleted ESMs deleted, and takes a re-imported ESM back with its vector', async () => {
    const [gone] = listEsms(registry);
    const query = vectors.get(gone.id)!;
    expect(openSourceIndex(registry, SPACE).index.search(query, 1)[0].label).toBe(gone.id);
    deleteEsms(registry, [gone.id]);
    reopen();
    let opened = openSourceIndex(registry, SPACE);
    expect(opened.rebuilt).toBeNull();
    expect([opened.index.size, opened.index.deletedCount]).toEqual([SOURCES - 1, 1]);
    expect(opened.index.search(query, SOURCES).map((n) => n.label)).not.toContain(gone.id);

    const summary = await importEsmFolders(registry, [join(dir, 'pool')]);
    expect(summary.imported).toBe(1);
    const back = listEsms(registry).find((r) => r.identity === gone.identity)!;
    expect(back.id).not.toBe(gone.id);
    reopen();
    opened = openSourceIndex(registry, SPACE);
    expect(opened.rebuilt).toBeNull();
    expect(opened.index.size).toBe(SOURCES);
    const [nearest] = opened.index.search(query, 1);
    expect(nearest.label).toBe(back.id);
    expect(nearest.similarity).toBeCloseTo(1, 5);
  });

  it('rebuilds an index file that fails its checksum, or that hnswlib cannot read, instead of trusting it', async () => {
    const path = indexPath(registry, SPACE);
    const bytes = await readFile(path);
    bytes[bytes.length >> 1] ^= 0xff;
    await writeFile(path, bytes);
    reopen();
    expect(sourceIndexStatus(registry)[0].state).toMatch(/fails its checksum/);
    let opened = openSourceIndex(registry, SPACE);
    expect(opened.rebuilt).toMatch(/fails its checksum/);
    expect(opened.index.size).toBe(SOURCES);
    expect(sourceIndexStatus(registry)[0].state).toBe('ok');

    // A file whose recorded checksum matches but which is not an index: hnswlib's read must fail it.
    const garbage = Buffer.from('not an hnsw index');
    const sidecar = JSON.parse(await readFile(`${path}.json`, 'utf8'));
    await writeFile(path, garbage);
    await writeFile(
      `${path}.json`,
      JSON.stringify({ ...sidecar, index_sha256: createHash('sha256').update(garbage).digest('hex'), index_bytes: garbage.length }),
    );
    reopen();
    expect(HnswIndex.load(path)).toEqual({ problem: expect.stringMatching(/hnswlib cannot read it/) });
    opened = openSourceIndex(registry, SPACE);
    expect(opened.rebuilt).toMatch(/hnswlib cannot read it/);
    expect(opened.index.size).toBe(SOURCES);

    await rm(`${path}.json`);
    reopen();
    expect(openSourceIndex(registry, SPACE).rebuilt).toBe('missing');
  });

  it('rebuilds an index that disagrees with the registry', () => {
    const [first] = listEsms(registry);
    const moved = unit(randomGenerator(5).normals(DIM));
    // Changed behind the index's back: the registry is the truth.
    putSourceVectors(registry, [first.identity], { ...SPACE, vector: moved, texts: 10, texts_sha256: 'other' });
    reopen();
    expect(sourceIndexStatus(registry)[0].state).toBe('disagrees with the registry');
    const { index, rebuilt } = openSourceIndex(registry, SPACE);
    expect(rebuilt).toMatch(/disagree/);
    expect(index.search(moved, 1)[0]).toEqual({ label: first.id, similarity: expect.closeTo(1, 5) });
  });

  it('refuses a vector of another dimension in the same space', () => {
    const [first] = listEsms(registry);
    expect(() => putSourceVectors(registry, [first.identity], { ...SPACE, vector: new Float32Array(DIM + 1), texts: 1, texts_sha256: 'x' })).toThrow(
      /16-dimensional/,
    );
  });
});

describe('two-stage ranking', () => {
  it('with candidates "all" equals the exhaustive ranking of the folders, and so does K ≥ the pool', async () => {
    const given = target();
    const folders = await rank({ ...given, esms: [join(dir, 'pool')] });
    const scores = (r: typeof folders) => r.ranking.map((t) => [t.task_id, t.score]);
    const all = await rank({ ...given, esms: registryPool(registry), candidates: 'all' });
    expect(scores(all)).toEqual(scores(folders));
    expect(all.stages).toEqual({ candidates: 'all', first: null, second: { considered: SOURCES, seconds: expect.any(Number) } });
    const wide = await rank({ ...given, esms: registryPool(registry), candidates: SOURCES });
    expect(scores(wide)).toEqual(scores(folders));
    expect(wide.stages.first).toMatchObject({ stage: 'textemb', considered: SOURCES, indexed: SOURCES, unindexed: 0, selected: SOURCES });
  });

  it('scores the K sources nearest the target plus every unindexed one, with their similarity and the stage counts', async () => {
    const given = target();
    const ids = listEsms(registry).map((r) => r.id);
    // Three sources lose their vector: their ESM comes back under new ids without one.
    const unindexed = ids.slice(0, 3);
    registry.db.prepare(`DELETE FROM source_vectors WHERE identity IN (SELECT identity FROM esms WHERE id IN (${unindexed.join(',')}))`).run();
    updateSourceIndexes(registry);
    const k = 5;
    const result = await rank({ ...given, esms: registryPool(registry), candidates: k, efSearch: 50 });
    const query = meanDirection(given.embeddings);
    const nearest = byCosine(
      query,
      ids.filter((id) => !unindexed.includes(id)),
    ).slice(0, k);
    const ranked = new Map(result.ranking.map((t) => [Number(t.source.slice('registry#'.length)), t]));
    expect([...ranked.keys()].sort((a, b) => a - b)).toEqual([...nearest, ...unindexed].sort((a, b) => a - b));
    for (const id of unindexed) expect(ranked.get(id)!.similarity).toBeNull();
    for (const id of nearest)
      expect(ranked.get(id)!.similarity).toBeCloseTo(
        vectors.get(id)!.reduce((s, x, j) => s + x * query[j], 0),
        5,
      );
    expect(result.stages.first).toMatchObject({ stage: 'textemb', considered: SOURCES, indexed: SOURCES - 3, unindexed: 3, selected: k });
    expect(result.stages.second.considered).toBe(k + 3);
    expect(result.considered).toBe(SOURCES);

    // Their scores are the exhaustive ranking's scores for the same sources.
    const all = await rank({ ...given, esms: registryPool(registry), candidates: 'all' });
    for (const task of all.ranking)
      if (ranked.has(Number(task.source.slice('registry#'.length)))) expect(ranked.get(Number(task.source.slice('registry#'.length)))!.score).toBe(task.score);

    // A recorded run keeps the stage counts and similarities.
    const runId = recordRankingRun(registry, { result, esmSource: 'registry' });
    expect(getRankingRun(registry, runId).result).toEqual(result);
  });

  it('honours a registry filter in the first stage', async () => {
    const given = target(11);
    const pool = registryPool(registry, { task_id: 'task-1' });
    const result = await rank({ ...given, esms: pool, candidates: 3 });
    expect(result.ranking.every((t) => t.task_id.includes('task-1'))).toBe(true);
    expect(result.stages.first).toMatchObject({ considered: pool.total, indexed: pool.total, selected: 3 });
  });

  it('ranks by ESM class means without any texts, from the sketches made at registration', async () => {
    registry.db.prepare('DELETE FROM source_vectors').run();
    const given = target(13);
    const result = await rank({ ...given, esms: registryPool(registry), candidates: 4, firstStage: 'esm-means' });
    expect(result.stages.first).toMatchObject({ stage: 'esm-means', indexed: SOURCES, unindexed: 0, selected: 4 });
    expect(result.ranking).toHaveLength(4);
    expect(result.ranking.every((t) => typeof t.similarity === 'number' && t.similarity > 0)).toBe(true);
    const textemb = await rank({ ...given, esms: registryPool(registry), candidates: 4 });
    expect(textemb.stages.first).toMatchObject({ indexed: 0, unindexed: SOURCES, selected: 0 });
    expect(textemb.ranking).toHaveLength(SOURCES);
  });

  it('refuses a bad candidate count', async () => {
    const given = target();
    const prepared = prepareTarget(given.embeddings, encodeLabels(given.labels, 'classification'));
    await expect(rankTwoStage(prepared, registryPool(registry), { candidates: 0 })).rejects.toThrow(/candidates: expected a positive integer/);
  });
});

describe('ESM sketches', () => {
  it('are made once per weights file at registration and dropped with the last ESM using it', async () => {
    const count = () => registry.db.prepare('SELECT count(*) FROM esm_sketches').pluck().get();
    expect(count()).toBe(SOURCES);
    const [first] = listEsms(registry);
    // The same weights (writeRandomPool's seed for task 0) under another task id share the weights file and its sketch.
    const twin = await registerEsm(registry, randomEsm('other/task', DIM, 1000), { origin: 'test' });
    expect(twin.record.weights_sha256).toBe(first.weights_sha256);
    expect(count()).toBe(SOURCES);
    deleteEsms(registry, [first.id]);
    expect(count()).toBe(SOURCES);
    deleteEsms(registry, [twin.record.id]);
    expect(count()).toBe(SOURCES - 1);
  });
});
