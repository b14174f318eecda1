import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddingSpaceMap } from '../../src/esm/esm.js';
import { EsmFormatError, esmConfigJson, esmWeightsFile, loadHfselectEsm, saveHfselectEsm } from '../../src/esm/hfselect.js';
import { rank } from '../../src/rank/rank.js';
import { checkRegistry, isHealthy } from '../../src/registry/doctor.js';
import { deleteEsms, exportEsm, loadRegisteredEsm, registerEsm, TRAIN_INFO_FILE } from '../../src/registry/esms.js';
import { importEsmFolders } from '../../src/registry/import.js';
import { registryPool } from '../../src/registry/pool.js';
import { openRegistry, REGISTRY_FILE, type Registry } from '../../src/store/database.js';
import { deleteDataset, getDataset, listDatasets, registerDataset } from '../../src/store/datasets.js';
import { deleteEmbeddingCacheEntry, getEmbeddingCacheEntry, listEmbeddingCacheEntries, putEmbeddingCacheEntry } from '../../src/store/embedding-cache.js';
import { type EsmFilter, esmIdentity, getEsm, listEsms } from '../../src/store/esms.js';
import { readVerifiedFile, sha256Hex, storeFile, weightsPath } from '../../src/store/files.js';
import { applyMigrations, MIGRATIONS, schemaVersion } from '../../src/store/migrations.js';
import { getRankingRun, listRankingRuns, recordRankingRun } from '../../src/store/rankings.js';
import { esmConfig, randomEsm } from '../helpers/pool.js';
import { referenceDir } from '../helpers/reference.js';

const smallPool = join(referenceDir, 'esm-logme', 'small-pool');
let dir: string;
let registry: Registry;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'esmselect-store-'));
  registry = openRegistry({ dataDir: join(dir, 'data') });
});
afterEach(async () => {
  registry.close();
  await rm(dir, { recursive: true, force: true });
});

describe('opening the registry', () => {
  it('creates the database in WAL mode with foreign keys, a busy timeout and every migration applied once', () => {
    expect(registry.path).toBe(join(dir, 'data', REGISTRY_FILE));
    expect(registry.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(registry.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(registry.db.pragma('busy_timeout', { simple: true })).toBeGreaterThanOrEqual(10_000);
    expect(schemaVersion(registry.db)).toBe(MIGRATIONS.length);
    registry.close();
    registry = openRegistry({ dataDir: join(dir, 'data') });
    expect(registry.db.prepare('SELECT count(*) FROM schema_migrations').pluck().get()).toBe(MIGRATIONS.length);
  });

  it('applies a new migration exactly once, and refuses a registry newer than the code', () => {
    const next = [...MIGRATIONS, { version: MIGRATIONS.length + 1, name: 'later', sql: 'CREATE TABLE later (id INTEGER PRIMARY KEY) STRICT' }];
    expect(applyMigrations(registry.db, next)).toEqual([MIGRATIONS.length + 1]);
    expect(applyMigrations(registry.db, next)).toEqual([]);
    expect(registry.db.prepare("SELECT name FROM sqlite_master WHERE name = 'later'").pluck().get()).toBe('later');
    registry.close();
    expect(() => openRegistry({ dataDir: join(dir, 'data') })).toThrow(
      new RegExp(`schema version ${MIGRATIONS.length + 1}, newer than this esmselect knows \\(${MIGRATIONS.length}\\)`),
    );
    registry = openRegistry({ dataDir: join(dir, 'other') });
    expect(() => applyMigrations(registry.db, [{ version: 2, name: 'gap', sql: '' }])).toThrow(/expected 1/);
  });

  it('keeps the ranking jobs of a registry from before fine-tune jobs, as jobs of kind ranking', () => {
    const old = new Database(join(dir, 'old.sqlite'));
    try {
      applyMigrations(old, MIGRATIONS.slice(0, 2));
      old.prepare("INSERT INTO ranking_jobs (id, state, request, restarts) VALUES ('r1', 'queued', '{\"rows\": 4}', 1)").run();
      expect(applyMigrations(old)).toEqual(MIGRATIONS.slice(2).map((m) => m.version));
      expect(old.prepare('SELECT id, kind, state, request, restarts, result FROM jobs').all()).toEqual([
        { id: 'r1', kind: 'ranking', state: 'queued', request: '{"rows": 4}', restarts: 1, result: null },
      ]);
      expect(() => old.prepare("INSERT INTO jobs (id, kind, state, request) VALUES ('x', 'sculpture', 'queued', '{}')").run()).toThrow(/CHECK constraint/);
    } finally {
      old.close();
    }
  });

  it('keeps the ESMs of a registry from before the esms table, with their ranking results and Hub provenance', async () => {
    const dataDir = join(dir, 'old-esms');
    await mkdir(dataDir, { recursive: true });
    const esm = randomEsm('org/old-task', 8, 11);
    const weights = esmWeightsFile(esm);
    const sha256 = sha256Hex(weights);
    await storeFile(dataDir, weightsPath(sha256), weights, sha256);
    const old = new Database(join(dataDir, REGISTRY_FILE));
    try {
      applyMigrations(old, MIGRATIONS.slice(0, 6));
      const config = esmConfigJson(esm);
      old
        .prepare(
          `INSERT INTO source_tasks (id, identity, task_id, base_model_name, esm_architecture, esm_embedding_dim, config, weights_path, weights_sha256, weights_bytes, origin)
           VALUES (5, ?, 'org/old-task', 'test/encoder', 'linear', 8, ?, ?, ?, ?, 'old')`,
        )
        .run(esmIdentity(config, sha256), config, weightsPath(sha256), sha256, weights.byteLength);
      old
        .prepare(
          "INSERT INTO ranking_runs (id, esm_source, target, scorer, considered, scored, rejected, seconds) VALUES (1, 'registry', 't', 'logme', 1, 1, '[]', 0)",
        )
        .run();
      old.prepare("INSERT INTO ranking_results (run_id, rank, source_task_id, score, task) VALUES (1, 1, 5, 0.5, 'org/old-task')").run();
      old.prepare("INSERT INTO hub_sources (repo_id, commit_sha, source_task_id, tags) VALUES ('org/old-esm', 'abc', 5, '[]')").run();
    } finally {
      old.close();
    }

    const migrated = openRegistry({ dataDir });
    try {
      expect(schemaVersion(migrated.db)).toBe(MIGRATIONS.length);
      expect(listEsms(migrated).map((r) => [r.id, r.task_id, r.origin])).toEqual([[5, 'org/old-task', 'old']]);
      const loaded = await loadRegisteredEsm(migrated, getEsm(migrated, 5));
      expect(loaded.weight).toEqual(esm.weight);
      // The references follow the rename: deleting the ESM unlinks its ranking results and drops its provenance.
      expect(() =>
        migrated.db.prepare("INSERT INTO hub_sources (repo_id, commit_sha, source_task_id, tags) VALUES ('org/none', 'abc', 99, '[]')").run(),
      ).toThrow(/FOREIGN KEY/);
      deleteEsms(migrated, [5]);
      expect(migrated.db.prepare('SELECT source_task_id FROM ranking_results').pluck().all()).toEqual([null]);
      expect(migrated.db.prepare('SELECT count(*) FROM hub_sources').pluck().get()).toBe(0);
      expect(migrated.db.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'source_tasks%'").all()).toEqual([]);
    } finally {
      migrated.close();
    }
  });

  it('rolls a failing migration back entirely', () => {
    const broken = [...MIGRATIONS, { version: MIGRATIONS.length + 1, name: 'broken', sql: 'CREATE TABLE half (id INTEGER); CREATE TABLE oops (' }];
    expect(() => applyMigrations(registry.db, broken)).toThrow();
    expect(registry.db.prepare("SELECT name FROM sqlite_master WHERE name = 'half'").get()).toBeUndefined();
    expect(schemaVersion(registry.db)).toBe(MIGRATIONS.length);
  });
});

describe('registering ESMs', () => {
  it('stores the weights at their content address before the row, and recognises the same ESM again', async () => {
    const esm = randomEsm('org/task-a', 16, 1);
    const first = await registerEsm(registry, esm, { origin: 'test' });
    expect(first.status).toBe('imported');
    const { record } = first;
    expect(record.weights_path).toBe(`esms/${record.weights_sha256}.safetensors`);
    const bytes = await readFile(registry.resolve(record.weights_path));
    expect(sha256Hex(bytes)).toBe(record.weights_sha256);
    expect(bytes.byteLength).toBe(record.weights_bytes);
    expect(record).toMatchObject({
      task_id: 'org/task-a',
      base_model_name: 'test/encoder',
      esm_embedding_dim: 16,
      language: 'en',
      text_column: 'text',
      origin: 'test',
    });

    const again = await registerEsm(registry, randomEsm('org/task-a', 16, 1), { origin: 'elsewhere' });
    expect(again).toMatchObject({ status: 'skipped', restored: false, record: { id: record.id, origin: 'test' } });
    // Another config field is another ESM, sharing the weights file.
    const relabelled = new EmbeddingSpaceMap({ ...esm.config, language: 'de' }, esm.weight, esm.bias);
    const other = await registerEsm(registry, relabelled, { origin: 'test' });
    expect(other.status).toBe('imported');
    expect(other.record.weights_path).toBe(record.weights_path);
    expect(listEsms(registry)).toHaveLength(2);
  });

  it('commits no row when its weights file cannot be written', async () => {
    const esm = randomEsm('org/unwritable', 8, 6);
    const address = registry.resolve(weightsPath(sha256Hex(esmWeightsFile(esm))));
    await mkdir(join(address, 'in-the-way'), { recursive: true });
    await expect(registerEsm(registry, esm, { origin: 'test' })).rejects.toThrow(/EISDIR|ENOTEMPTY|EEXIST/);
    expect(listEsms(registry)).toEqual([]);
    expect((await readdir(join(registry.dataDir, 'esms'))).filter((name) => name.includes('.tmp-'))).toEqual([]);
  });

  it('imports a folder tree once: legacy and F16 folders are the same ESMs as their exports, reruns skip, bad folders are rejected with the reason', async () => {
    const pool = join(dir, 'pool');
    await cp(join(smallPool, 'esms'), join(pool, 'reference'), { recursive: true });
    await writeFile(join(pool, 'reference', 'synthetic__task-003', 'config.json'), '{"task_id": ');
    const first = await importEsmFolders(registry, [pool]);
    expect(first).toMatchObject({ imported: 7, skipped: 0, rejected: 1 });
    expect(first.outcomes.find((o) => o.status === 'rejected')).toMatchObject({
      source: join(pool, 'reference', 'synthetic__task-003'),
      reason: 'config.json is not valid JSON',
    });

    // Our own exports of the legacy (0.1.0) and F16 ESMs are recognised as the ones imported.
    for (const slug of ['synthetic__task-000', 'synthetic__task-004']) {
      await saveHfselectEsm(await loadHfselectEsm(join(smallPool, 'esms', slug)), join(pool, 'exported', slug));
    }
    const second = await importEsmFolders(registry, [pool]);
    expect(second).toMatchObject({ imported: 0, skipped: 9, rejected: 1 });
    expect(second.outcomes.filter((o) => o.status === 'skipped').every((o) => /^already registered as #\d+$/.test(o.reason!))).toBe(true);
    expect(listEsms(registry)).toHaveLength(7);
    await expect(importEsmFolders(registry, [join(dir, 'nowhere')])).rejects.toThrow(/^import: .*nowhere does not exist/);
  });

  it('lists with filters on base model, language, task id substring, architecture and dimension', async () => {
    const add = (taskId: string, dim: number, extra: object) =>
      registerEsm(registry, new EmbeddingSpaceMap(esmConfig(taskId, dim, extra), new Float32Array(dim * dim), new Float32Array(dim)), { origin: 'test' });
    await add('glue/sst2', 8, {});
    await add('glue/mnli', 8, { language: 'de' });
    await add('imdb', 8, { base_model_name: 'other/model' });
    await add('GLUE/qnli', 4, {});
    const ids = (filter: EsmFilter) => listEsms(registry, filter).map((r) => r.task_id);
    expect(ids({})).toEqual(['glue/sst2', 'glue/mnli', 'imdb', 'GLUE/qnli']);
    expect(ids({ task_id: 'glue' })).toEqual(['glue/sst2', 'glue/mnli', 'GLUE/qnli']);
    expect(ids({ base_model_name: 'other/model' })).toEqual(['imdb']);
    expect(ids({ language: 'DE' })).toEqual(['glue/mnli']);
    expect(ids({ esm_embedding_dim: 4 })).toEqual(['GLUE/qnli']);
    expect(ids({ task_id: 'glue', esm_embedding_dim: 8, language: 'en' })).toEqual(['glue/sst2']);
    expect(ids({ esm_architecture: 'mlp' })).toEqual([]);
    expect(ids({ task_id: '%' })).toEqual([]);
  });
});

describe('integrity', () => {
  it('refuses an ESM whose weights fail their checksum, reports it, and a re-import restores the file', async () => {
    const folder = join(dir, 'one');
    await saveHfselectEsm(randomEsm('org/task', 8, 2), folder);
    const { outcomes } = await importEsmFolders(registry, [folder]);
    const record = getEsm(registry, outcomes[0].id!);
    const path = registry.resolve(record.weights_path);
    const bytes = await readFile(path);
    bytes[bytes.length - 1] ^= 0xff;
    await writeFile(path, bytes);

    await expect(loadRegisteredEsm(registry, record)).rejects.toThrow(EsmFormatError);
    const entries = [];
    for await (const entry of registryPool(registry).entries()) entries.push(entry);
    expect(entries).toEqual([{ source: `registry#${record.id}`, problem: expect.stringMatching(/fails its checksum.*see esmselect doctor/) }]);
    const report = await checkRegistry(registry);
    expect(report.broken).toEqual([{ kind: 'esm', entry: `registry#${record.id}`, problem: expect.stringMatching(/fails its checksum/) }]);
    expect(isHealthy(report)).toBe(false);
    await expect(exportEsm(registry, record.id, join(dir, 'out'))).rejects.toThrow(/fails its checksum/);

    const rerun = await importEsmFolders(registry, [folder]);
    expect(rerun.outcomes[0]).toMatchObject({ status: 'skipped', reason: `already registered as #${record.id}; its weights file was restored` });
    expect(isHealthy(await checkRegistry(registry))).toBe(true);
    bytes[0] ^= 0xff;
    await writeFile(path, bytes);
    expect((await checkRegistry(registry, { verifyChecksums: false })).broken).toEqual([]);
    await rm(path);
    expect((await checkRegistry(registry, { verifyChecksums: false })).broken[0].problem).toMatch(/is missing/);
  });

  it('reports orphan and left-over temporary files; cleanup removes those of dead processes only', async () => {
    const { record } = await registerEsm(registry, randomEsm('org/kept', 8, 3), { origin: 'test' });
    const orphan = `esms/${'a'.repeat(64)}.safetensors`;
    await writeFile(registry.resolve(orphan), 'weights nobody registered');
    const deadPid = 2 ** 22 + 12345; // above Linux's pid_max default, so no such process
    const dead = `${record.weights_path}.tmp-${deadPid}-0123abcd`;
    const live = `esms/${'b'.repeat(64)}.safetensors.tmp-${process.pid}-89abcdef`;
    await writeFile(registry.resolve(dead), 'half');
    await writeFile(registry.resolve(live), 'being written');

    const report = await checkRegistry(registry);
    expect(report.orphans).toEqual([orphan]);
    expect(report.temporary).toEqual(
      expect.arrayContaining([
        { path: dead, pid: deadPid, running: false },
        { path: live, pid: process.pid, running: true },
      ]),
    );
    expect(isHealthy(report)).toBe(false);
    const cleaned = await checkRegistry(registry, { cleanup: true });
    expect(cleaned.removed.sort()).toEqual([dead, orphan].sort());
    expect(isHealthy(cleaned)).toBe(true);
    expect((await readdir(join(registry.dataDir, 'esms'))).sort()).toEqual([`${record.weights_sha256}.safetensors`, live.slice(5)].sort());
    expect(cleaned.counts.esms).toBe(1);
    expect(cleaned.integrity).toEqual(['ok']);
  });
});

describe('managing ESMs', () => {
  it('deletes the row and its file together, keeping a file another ESM shares', async () => {
    const esm = randomEsm('org/a', 8, 4);
    const a = (await registerEsm(registry, esm, { origin: 'test' })).record;
    const b = (await registerEsm(registry, new EmbeddingSpaceMap({ ...esm.config, task_subset: 'x' }, esm.weight, esm.bias), { origin: 'test' })).record;
    const c = (await registerEsm(registry, randomEsm('org/c', 8, 5), { origin: 'test' })).record;
    expect(() => deleteEsms(registry, [c.id, 999])).toThrow(/no ESM #999/);
    expect(listEsms(registry)).toHaveLength(3);

    expect(deleteEsms(registry, [a.id, c.id]).map((r) => r.id)).toEqual([a.id, c.id]);
    expect(listEsms(registry).map((r) => r.id)).toEqual([b.id]);
    await expect(stat(registry.resolve(c.weights_path))).rejects.toThrow(/ENOENT/);
    expect((await stat(registry.resolve(b.weights_path))).isFile()).toBe(true);
    deleteEsms(registry, [b.id]);
    await expect(stat(registry.resolve(b.weights_path))).rejects.toThrow(/ENOENT/);
    expect(isHealthy(await checkRegistry(registry))).toBe(true);
  });

  it('exports an hfselect folder that loads back to the same ESM', async () => {
    const legacy = await loadHfselectEsm(join(smallPool, 'esms', 'synthetic__task-000'));
    const { record } = await registerEsm(registry, legacy, { origin: 'test' });
    await exportEsm(registry, record.id, join(dir, 'exported'));
    const back = await loadHfselectEsm(join(dir, 'exported'));
    expect(Array.from(back.weight)).toEqual(Array.from(legacy.weight));
    expect(Array.from(back.bias)).toEqual(Array.from(legacy.bias));
    expect(back.config).toEqual({ ...legacy.config, version: '0.2.0' });
    await expect(stat(join(dir, 'exported', TRAIN_INFO_FILE))).rejects.toThrow(/ENOENT/);
  });

  it('ranks from the registry with the same scores as from the folders, filters applied', async () => {
    await importEsmFolders(registry, [join(smallPool, 'esms')]);
    await registerEsm(registry, randomEsm('other/task', 16, 9), { origin: 'test' });
    const fromFolders = await rank({ embeddings: join(smallPool, 'target'), esms: [join(smallPool, 'esms')] });
    const fromRegistry = await rank({ embeddings: join(smallPool, 'target'), esms: registryPool(registry, { task_id: 'synthetic/' }) });
    expect(fromRegistry.considered).toBe(8);
    expect(fromRegistry.ranking.map((t) => [t.task_id, t.score])).toEqual(fromFolders.ranking.map((t) => [t.task_id, t.score]));
    expect(fromRegistry.ranking.every((t) => /^registry#\d+$/.test(t.source))).toBe(true);
    const everything = await rank({ embeddings: join(smallPool, 'target'), esms: registryPool(registry) });
    expect(everything.considered).toBe(9);
  });
});

describe('datasets, embedding cache and ranking runs', () => {
  it('registers datasets idempotently by fingerprint', () => {
    const first = registerDataset(registry, {
      name: 'glue',
      subset: 'sst2',
      split: 'train',
      text_column: 'sentence',
      label_column: 'label',
      task_type: 'classification',
      num_rows: 100,
    });
    const again = registerDataset(registry, { name: 'glue', subset: 'sst2', split: 'train', text_column: 'sentence', label_column: 'label', num_rows: 5 });
    const other = registerDataset(registry, { name: 'glue', subset: 'sst2', split: 'validation', text_column: 'sentence', label_column: 'label' });
    expect(again).toEqual(first);
    expect(other.id).not.toBe(first.id);
    expect(first).toMatchObject({ name: 'glue', subset: 'sst2', text_column: 'sentence', task_type: 'classification', num_rows: 100 });
    expect(registerDataset(registry, { name: 'local.csv', fingerprint: 'sha-of-file', meta: { rows: [1, 2] } })).toMatchObject({
      fingerprint: 'sha-of-file',
      meta: { rows: [1, 2] },
    });
    expect(listDatasets(registry)).toHaveLength(3);
    expect(() => registerDataset(registry, { name: 'bad', task_type: 'ranking' as never })).toThrow(/CHECK constraint/);
  });

  it('records embedding-cache files by key, verifies them, and drops them with their dataset', async () => {
    const dataset = registerDataset(registry, { name: 'imdb', split: 'test' });
    const bytes = new Uint8Array([1, 2, 3, 4]);
    await writeFile(registry.resolve('cache.f32'), bytes);
    const entry = {
      key: 'imdb|model|mean',
      dataset_id: dataset.id,
      model: 'model',
      pooling: 'mean',
      rows: 1,
      dim: 1,
      path: 'cache.f32',
      sha256: sha256Hex(bytes),
      bytes: 4,
      meta: { max_length: 128 },
    };
    expect(putEmbeddingCacheEntry(registry, entry)).toMatchObject(entry);
    const hit = getEmbeddingCacheEntry(registry, entry.key)!;
    expect('bytes' in (await readVerifiedFile(registry.dataDir, hit.path, hit.sha256))).toBe(true);
    expect(getEmbeddingCacheEntry(registry, 'missing')).toBeUndefined();
    putEmbeddingCacheEntry(registry, { ...entry, rows: 2 });
    expect(listEmbeddingCacheEntries(registry, { datasetId: dataset.id }).map((e) => e.rows)).toEqual([2]);
    await writeFile(registry.resolve('cache.f32'), new Uint8Array([9]));
    expect((await checkRegistry(registry)).broken).toEqual([
      { kind: 'embedding-cache', entry: entry.key, problem: expect.stringMatching(/fails its checksum/) },
    ]);
    expect(deleteDataset(registry, dataset.id)).toEqual(['cache.f32']);
    expect(listEmbeddingCacheEntries(registry)).toEqual([]);
    expect(() => getDataset(registry, dataset.id)).toThrow(/no dataset/);
    expect(deleteEmbeddingCacheEntry(registry, entry.key)).toBe(false);
    expect(() => putEmbeddingCacheEntry(registry, { ...entry, dataset_id: 12345 })).toThrow(/FOREIGN KEY/);
  });

  it('stores ranking runs with their results, keeping results when an ESM or the dataset goes', async () => {
    await importEsmFolders(registry, [join(smallPool, 'esms')]);
    const dataset = registerDataset(registry, { name: 'target' });
    const filter = { task_id: 'synthetic' };
    const result = await rank({ embeddings: join(smallPool, 'target'), esms: registryPool(registry, filter), top: 3 });
    const runId = recordRankingRun(registry, { result, datasetId: dataset.id, esmSource: 'registry', filter });
    const stored = getRankingRun(registry, runId);
    expect(stored.result).toEqual(result);
    expect(stored).toMatchObject({ dataset_id: dataset.id, esm_source: 'registry', esm_filter: filter });
    const linked = () => registry.db.prepare('SELECT source_task_id FROM ranking_results WHERE run_id = ? ORDER BY rank').pluck().all(runId);
    expect(linked()).toEqual(result.ranking.map((t) => Number(t.source.slice('registry#'.length))));

    deleteEsms(registry, [Number(result.ranking[0].source.slice('registry#'.length))]);
    deleteDataset(registry, dataset.id);
    expect(linked()[0]).toBeNull();
    expect(getRankingRun(registry, runId).result.ranking).toEqual(result.ranking);
    expect(listRankingRuns(registry)).toEqual([expect.objectContaining({ id: runId, dataset_id: null })]);
    expect(() => getRankingRun(registry, runId + 1)).toThrow(/no ranking run/);
    // A run recorded before the filter took hfselect's field names reads with them.
    registry.db.prepare('UPDATE ranking_runs SET esm_filter = ? WHERE id = ?').run(JSON.stringify({ task: 'synthetic', dim: 16, hubRepos: ['a/b'] }), runId);
    expect(getRankingRun(registry, runId).esm_filter).toEqual({ task_id: 'synthetic', esm_embedding_dim: 16, esm_repo_ids: ['a/b'] });
  });
});
