import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HubOfflineError, hubConfig } from '../../src/hub/config.js';
import { maxWeightsBytes, type PullSummary, pullEsms } from '../../src/registry/pull.js';
import { openRegistry, type Registry } from '../../src/store/database.js';
import { getEsm, listEsms } from '../../src/store/esms.js';
import { findHubSource, hubSourcesOf } from '../../src/store/hub-sources.js';
import { applyMigrations, MIGRATIONS } from '../../src/store/migrations.js';
import { esmModelCard, esmWeightsFile, publishEsm, publishEsmPool } from '../helpers/hub/seed.js';
import { type HubStandin, startHubStandin } from '../helpers/hub/standin.js';
import { esmConfig } from '../helpers/pool.js';

const TOKEN = 'hf_secret_reader_token';
const BASE = 'google-bert/bert-base-uncased';
const referencePool = join(import.meta.dirname, '..', 'fixtures', 'reference', 'esm-logme', 'small-pool', 'esms');

let hub: HubStandin;
let registry: Registry;
let dir: string;

beforeAll(async () => {
  hub = await startHubStandin({ tokens: { [TOKEN]: { name: 'reader', role: 'read' } }, pageSize: 4 });
  hub.store.create('model', BASE);
  hub.store.rename('model', 'bert-base-uncased', BASE);
  hub.store.create('model', 'other/model');
});
afterAll(() => hub.close());

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'esmselect-hub-pull-'));
  registry = openRegistry({ dataDir: join(dir, 'data') });
});
afterEach(() => {
  registry.close();
  hub.faults.length = 0;
  hub.corrupted.clear();
  // Each test publishes its own repos; earlier ones stay listed, so each pulls under its own owner.
});

const config = () => hubConfig({ HF_ENDPOINT: hub.endpoint, HF_TOKEN: TOKEN });
const reasons = (summary: PullSummary) => Object.fromEntries(summary.outcomes.filter((o) => o.reason).map((o) => [o.repo, o.reason]));
const resolveRequests = (owner: string) => hub.requests.filter((r) => r.url.startsWith(`/${owner}/`) && r.url.includes('/resolve/'));

describe('esm pull', () => {
  it('pulls every ESM of a base model named by its old name, records the commit, and a second pull downloads nothing', async () => {
    const ids = publishEsmPool(hub, { count: 6, dim: 8, baseModel: 'bert-base-uncased', owner: 'first' });
    // Not for this base model: left alone.
    publishEsm(hub, {
      repoId: 'first/other',
      config: esmConfig('first/other', 8, { base_model_name: 'other/model' }),
      weights: esmWeightsFile(new Float32Array(64), new Float32Array(8)),
    });
    const progress: number[] = [];
    const first = await pullEsms(registry, {
      baseModel: 'bert-base-uncased',
      task: 'first/',
      hub: config(),
      onProgress: (p) => p.stage === 'pulling' && progress.push(p.done),
    });
    expect(first).toMatchObject({ baseModel: BASE, repos: 6, imported: 6, skipped: 0, unchanged: 0, rejected: 0, failed: 0 });
    expect(progress.at(-1)).toBe(6);
    const records = listEsms(registry);
    expect(records.map((r) => r.task_id).sort()).toEqual(ids.map((_, i) => `first/task-${i}`).sort());
    for (const record of records) {
      const [source] = hubSourcesOf(registry, record.id);
      const head = hub.store.head(hub.store.get('model', source.repo_id)!).oid;
      expect(source).toMatchObject({ commit_sha: head, rejected: null });
      expect(source.tags).toContain(`base_model:${BASE}`);
      expect(record.origin).toBe(`hf://${source.repo_id}@${head}`);
    }
    // The Hub's pool for the base model, as the registry selects it.
    expect(listEsms(registry, { hub_base_model: BASE }).length).toBe(6);
    expect(listEsms(registry, { hub_base_model: 'other/model' })).toEqual([]);

    const before = resolveRequests('first').length;
    const second = await pullEsms(registry, { baseModel: 'bert-base-uncased', task: 'first/', hub: config() });
    expect(second).toMatchObject({ imported: 0, unchanged: 6 });
    expect(resolveRequests('first').length).toBe(before);

    // A new commit of one repo: only that repo is read again; its new weights make a new ESM.
    publishEsm(hub, {
      repoId: ids[2],
      config: esmConfig('first/task-2', 8, { base_model_name: 'bert-base-uncased' }),
      weights: esmWeightsFile(new Float32Array(64).fill(0.5), new Float32Array(8)),
    });
    const third = await pullEsms(registry, { baseModel: 'bert-base-uncased', task: 'first/', hub: config() });
    expect(third).toMatchObject({ imported: 1, unchanged: 5 });
    expect(resolveRequests('first').length - before).toBe(2);
    expect(findHubSource(registry, ids[2])!.commit_sha).toBe(hub.store.head(hub.store.get('model', ids[2])!).oid);
  });

  it('pins every download to the listed commit and never sends the token to the CDN or stores it', async () => {
    publishEsmPool(hub, { count: 2, dim: 4, baseModel: 'bert-base-uncased', owner: 'pinned' });
    await pullEsms(registry, { task: 'pinned/', hub: config() });
    const downloads = resolveRequests('pinned');
    expect(downloads.length).toBe(4);
    for (const request of downloads) expect(request.url).toMatch(/\/resolve\/[0-9a-f]{40}\//);
    const cdn = hub.requests.filter((r) => r.server === 'cdn');
    expect(cdn.length).toBeGreaterThan(0);
    expect(cdn.every((r) => r.headers.authorization === undefined)).toBe(true);
    expect(downloads.every((r) => r.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
    registry.db.pragma('wal_checkpoint(TRUNCATE)');
    for (const name of readdirSync(registry.dataDir)) {
      if (name.startsWith('esmselect.sqlite')) expect(readFileSync(join(registry.dataDir, name)).includes(TOKEN)).toBe(false);
    }
  });

  it('registers legacy (0.1.0) and F16 ESMs through the import path, as the same ESMs their exports are', async () => {
    for (const slug of ['synthetic__task-000', 'synthetic__task-004']) {
      const folder = join(referencePool, slug);
      const configText = await readFile(join(folder, 'config.json'), 'utf8');
      const repo = hub.store.create('model', `legacy/${slug}`);
      hub.store.commit(repo, 'main', {
        title: 'upload',
        files: {
          'config.json': configText,
          'model.safetensors': await readFile(join(folder, 'model.safetensors')),
          'README.md': esmModelCard(JSON.parse(configText)),
        },
      });
    }
    const summary = await pullEsms(registry, { task: 'legacy/', hub: config() });
    expect(summary).toMatchObject({ imported: 2, rejected: 0 });
    expect(
      listEsms(registry)
        .map((r) => r.config.version)
        .sort(),
    ).toEqual(['0.2.0', '0.2.0']);
  });

  it('rejects hostile and broken repos, each with its reason, and pulls the rest', async () => {
    // Each its own weights: the liar's corrupted object must be its alone.
    let fill = 0;
    const good = (id: string, dim = 4) =>
      publishEsm(hub, { repoId: id, config: esmConfig(id, dim), weights: esmWeightsFile(new Float32Array(dim * dim).fill(++fill), new Float32Array(dim)) });
    good('bad/fine');
    // Weights of another dimension than the config's.
    publishEsm(hub, { repoId: 'bad/wrong-dims', config: esmConfig('bad/wrong-dims', 8), weights: esmWeightsFile(new Float32Array(16), new Float32Array(4)) });
    // NaN weights.
    publishEsm(hub, {
      repoId: 'bad/nan',
      config: esmConfig('bad/nan', 4),
      weights: esmWeightsFile(new Float32Array(16).fill(Number.NaN), new Float32Array(4)),
    });
    // A config.json of 2 MiB: refused unread.
    const huge = JSON.stringify({ ...esmConfig('bad/huge-config', 4), padding: 'x'.repeat(2 ** 21) });
    publishEsm(hub, { repoId: 'bad/huge-config', config: esmConfig('bad/huge-config', 4), weights: esmWeightsFile(new Float32Array(16), new Float32Array(4)) });
    hub.store.commit(hub.store.get('model', 'bad/huge-config')!, 'main', { title: 'grow', files: { 'config.json': huge } });
    // A dimension that would need gigabytes: refused before a byte of the weights is read.
    publishEsm(hub, { repoId: 'bad/huge-dim', config: esmConfig('bad/huge-dim', 100_000), weights: esmWeightsFile(new Float32Array(16), new Float32Array(4)) });
    // Weights larger than the config's dimension needs.
    publishEsm(hub, {
      repoId: 'bad/padded',
      config: esmConfig('bad/padded', 2),
      weights: Buffer.concat([esmWeightsFile(new Float32Array(4), new Float32Array(2)), Buffer.alloc(maxWeightsBytes(2))]),
    });
    // Control characters in a config value (a terminal escape), and in the card (its tags).
    publishEsm(hub, { repoId: 'bad/escape', config: esmConfig('bad/\u001b[31mred', 4), weights: esmWeightsFile(new Float32Array(16), new Float32Array(4)) });
    publishEsm(hub, {
      repoId: 'bad/card',
      config: esmConfig('bad/card', 4),
      weights: esmWeightsFile(new Float32Array(16).fill(0.2), new Float32Array(4)),
      card: `${esmModelCard(esmConfig('bad/card', 4))}\u0007\u001b]0;title\u0007`,
    });
    // Path traversal in file names, and a repo id that is not one.
    const traversal = good('bad/traversal');
    hub.store.commit(traversal, 'main', { title: 'evil', files: { '../../../escape.txt': 'x', 'sub/../../config.json': '{}' } });
    good('bad/a..b');
    // A repo that lies about its sha256: the CDN serves other bytes.
    const liar = good('bad/liar');
    hub.corrupted.add(hub.store.head(liar).files.get('model.safetensors')!.lfs!.oid);
    // No weights at all.
    const missing = hub.store.create('model', 'bad/missing');
    hub.store.commit(missing, 'main', {
      title: 'card only',
      files: { 'config.json': JSON.stringify(esmConfig('bad/missing', 4)), 'README.md': esmModelCard(esmConfig('bad/missing', 4)) },
    });

    const summary = await pullEsms(registry, { task: 'bad/', hub: config() });
    const why = reasons(summary);
    expect(summary.imported).toBe(3);
    expect(
      listEsms(registry)
        .map((r) => r.task_id)
        .sort(),
    ).toEqual(['bad/card', 'bad/fine', 'bad/traversal']);
    expect(why['bad/wrong-dims']).toMatch(/model\.weight has shape \[4, 4\], expected \[8, 8\]/);
    expect(why['bad/nan']).toMatch(/not finite/);
    expect(why['bad/huge-config']).toMatch(/config\.json is \d+ bytes, more than the 1048576 accepted/);
    expect(why['bad/huge-dim']).toMatch(/esm_embedding_dim 100000 needs up to \d+ bytes of weights, more than the \d+ accepted/);
    expect(why['bad/padded']).toMatch(/more than an ESM of dimension 2 needs/);
    expect(why['bad/escape']).toMatch(/config\.json: task_id contains control characters/);
    expect(why['bad/a..b']).toMatch(/not a repo id/);
    expect(why['bad/liar']).toMatch(/model\.safetensors: its sha256 is .*, not the .* the Hub announced/);
    expect(why['bad/missing']).toBe('model.safetensors is missing');
    // Nothing was written outside the data dir, and nothing from the Hub was named after its paths.
    expect(readdirSync(dir).sort()).toEqual(['data']);
    expect(
      readdirSync(registry.dataDir)
        .filter((name) => !name.startsWith('esmselect.sqlite'))
        .sort(),
    ).toEqual(['esms']);
    // No weights were downloaded for the repos refused by their config.
    const weightsOf = (repo: string) => hub.requests.filter((r) => r.url.startsWith(`/${repo}/resolve/`) && r.url.endsWith('/model.safetensors'));
    expect([weightsOf('bad/huge-dim'), weightsOf('bad/padded'), weightsOf('bad/escape'), weightsOf('bad/huge-config')].map((r) => r.length)).toEqual([
      0, 0, 0, 0,
    ]);

    // Content refusals are remembered for that commit; the liar's transfer is tried again (it may have been the network).
    const again = await pullEsms(registry, { task: 'bad/', hub: config() });
    expect(reasons(again)['bad/nan']).toMatch(/not finite .*\(unchanged since the last pull\)/);
    hub.corrupted.clear();
    expect(again.outcomes.find((o) => o.repo === 'bad/liar')!.status).toBe('rejected');
    const third = await pullEsms(registry, { task: 'bad/', hub: config() });
    expect(third.outcomes.find((o) => o.repo === 'bad/liar')!.status).toBe('imported');
  });

  it('retries a 429 after its Retry-After and a 503, then goes on', async () => {
    publishEsmPool(hub, { count: 3, dim: 4, baseModel: 'bert-base-uncased', owner: 'busy' });
    hub.faults.push(
      { path: /^\/api\/models\?/, status: 429, headers: { 'Retry-After': '1' }, times: 1 },
      { path: /^\/busy\/esm-0001\/resolve\//, status: 503, times: 2 },
    );
    const retries: (number | null)[] = [];
    const started = performance.now();
    const summary = await pullEsms(registry, { task: 'busy/', hub: config(), onRetry: (r) => retries.push(r.status) });
    expect(summary).toMatchObject({ imported: 3, failed: 0 });
    expect(retries).toEqual([429, 503, 503]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it('pulls named repos at a revision, and reports a repo that is not there', async () => {
    const [id] = publishEsmPool(hub, { count: 1, dim: 4, baseModel: 'bert-base-uncased', owner: 'named' });
    const repo = hub.store.get('model', id)!;
    const first = hub.store.head(repo).oid;
    publishEsm(hub, {
      repoId: id,
      config: esmConfig('named/task-0', 4, { language: 'de' }),
      weights: esmWeightsFile(new Float32Array(16).fill(0.3), new Float32Array(4)),
    });
    const summary = await pullEsms(registry, { repos: [id, 'named/none'], revision: first, hub: config() });
    expect(summary).toMatchObject({ imported: 1, rejected: 1 });
    expect(findHubSource(registry, id)!.commit_sha).toBe(first);
    expect(getEsm(registry, summary.outcomes.find((o) => o.repo === id)!.id!).language).toBe('en');
    expect(reasons(summary)['named/none']).toMatch(/repo named\/none: not found on the Hub/);
    await expect(pullEsms(registry, { repos: [id], baseModel: BASE, hub: config() })).rejects.toThrow(/not both/);
    // A named id that cannot be a repo is the caller's typo: refused before any request, not one rejected repo among the rest.
    const before = hub.requests.length;
    await expect(pullEsms(registry, { repos: [id, 'named/../etc'], hub: config() })).rejects.toThrow(/^repo: "named\/\.\.\/etc" is not a repo id/);
    expect(hub.requests.length).toBe(before);
  });

  it('keeps its downloads to the concurrency asked for', async () => {
    const slow = await startHubStandin({ latencyMs: 30 });
    try {
      publishEsmPool(slow, { count: 12, dim: 4, baseModel: 'any/model' });
      const summary = await pullEsms(registry, { hub: hubConfig({ HF_ENDPOINT: slow.endpoint }), concurrency: 3 });
      expect(summary.imported).toBe(12);
      expect(slow.maxInFlight).toBeLessThanOrEqual(3);
      expect(slow.maxInFlight).toBeGreaterThan(1);
    } finally {
      await slow.close();
    }
  });

  it('checks and sketches in worker threads what it would in this thread', async () => {
    publishEsmPool(hub, { count: 5, dim: 6, baseModel: 'bert-base-uncased', owner: 'threads' });
    publishEsm(hub, {
      repoId: 'threads/nan',
      config: esmConfig('threads/nan', 4),
      weights: esmWeightsFile(new Float32Array(16).fill(Number.NaN), new Float32Array(4)),
    });
    const other = openRegistry({ dataDir: join(dir, 'other') });
    try {
      const inWorkers = await pullEsms(registry, { task: 'threads/', hub: config(), threads: 2 });
      const here = await pullEsms(other, { task: 'threads/', hub: config(), threads: 0 });
      expect(inWorkers).toMatchObject({ imported: 5, rejected: 1 });
      expect(reasons(inWorkers)).toEqual(reasons(here));
      const contents = (r: Registry) =>
        r.db.prepare('SELECT s.identity, k.sketch FROM esms s JOIN esm_sketches k ON k.weights_sha256 = s.weights_sha256 ORDER BY s.identity').all();
      expect(contents(registry)).toEqual(contents(other));
      expect(contents(registry)).toHaveLength(5);
    } finally {
      other.close();
    }
  });

  it('refuses at once, touching nothing, when HF_HUB_OFFLINE is set', async () => {
    const before = hub.requests.length;
    await expect(pullEsms(registry, { hub: hubConfig({ HF_ENDPOINT: hub.endpoint, HF_HUB_OFFLINE: '1' }) })).rejects.toBeInstanceOf(HubOfflineError);
    expect(hub.requests.length).toBe(before);
  });

  it('stops when cancelled, keeping what it registered', async () => {
    publishEsmPool(hub, { count: 10, dim: 4, baseModel: 'bert-base-uncased', owner: 'cancel' });
    hub.options.latencyMs = 40;
    const controller = new AbortController();
    try {
      const pulling = pullEsms(registry, {
        task: 'cancel/',
        hub: config(),
        concurrency: 2,
        signal: controller.signal,
        onProgress: (p) => p.done >= 2 && controller.abort(),
      });
      await expect(pulling).rejects.toMatchObject({ name: 'AbortError' });
    } finally {
      hub.options.latencyMs = 0;
    }
    const kept = listEsms(registry).length;
    expect(kept).toBeGreaterThanOrEqual(2);
    expect(kept).toBeLessThan(10);
    const rest = await pullEsms(registry, { task: 'cancel/', hub: config() });
    expect(rest.unchanged).toBe(kept);
    expect(rest.imported).toBe(10 - kept);
  });
});

describe('the registry schema for the Hub (migration 6)', () => {
  it('keeps the jobs of an older registry and lets pull jobs and provenance in', () => {
    const db = new Database(join(dir, 'old.sqlite'));
    try {
      applyMigrations(db, MIGRATIONS.slice(0, 5));
      db.prepare(
        "INSERT INTO jobs (id, kind, state, request, restarts) VALUES ('a', 'ranking', 'succeeded', '{}', 2), ('b', 'finetune', 'queued', '{}', 0)",
      ).run();
      expect(() => db.prepare("INSERT INTO jobs (id, kind, state, request) VALUES ('c', 'pull', 'queued', '{}')").run()).toThrow(/CHECK/);
      expect(applyMigrations(db, MIGRATIONS.slice(0, 6))).toEqual([6]);
      expect(db.prepare('SELECT id, kind, state, restarts FROM jobs ORDER BY id').all()).toEqual([
        { id: 'a', kind: 'ranking', state: 'succeeded', restarts: 2 },
        { id: 'b', kind: 'finetune', state: 'queued', restarts: 0 },
      ]);
      db.prepare("INSERT INTO jobs (id, kind, state, request) VALUES ('c', 'pull', 'queued', '{}')").run();
      // A repo's row holds an ESM or the reason it is none, never both or neither.
      expect(() => db.prepare("INSERT INTO hub_sources (repo_id, commit_sha, tags) VALUES ('x/y', 'abc', '[]')").run()).toThrow(/CHECK/);
    } finally {
      db.close();
    }
  });
});
