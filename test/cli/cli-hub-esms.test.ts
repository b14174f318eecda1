import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config.js';
import { importEsmFolders } from '../../src/registry/import.js';
import { openRegistry } from '../../src/store/database.js';
import { listEsms } from '../../src/store/esms.js';
import { runCliAsync } from '../helpers/cli.js';
import { esmModelCard, esmWeightsFile, publishEsm, publishEsmPool } from '../helpers/hub/seed.js';
import { type HubStandin, startHubStandin } from '../helpers/hub/standin.js';
import { esmConfig } from '../helpers/pool.js';

/**
 * The Hub commands as a user runs them: the CLI in its own process, HF_ENDPOINT pointing at the
 * stand-in on 127.0.0.1.
 */
const READ = 'hf_cli_read_token_1234';
const WRITE = 'hf_cli_write_token_5678';
const TINY = 'esmselect/tiny-bert';

let hub: HubStandin;
beforeAll(async () => {
  hub = await startHubStandin({ tokens: { [READ]: { name: 'bob', role: 'read' }, [WRITE]: { name: 'alice', role: 'write' } } });
  // The demo ESMs say base_model_name "tiny-bert", an old name the Hub redirects, as bert-base-uncased is.
  hub.store.create('model', TINY);
  hub.store.rename('model', 'tiny-bert', TINY);
  for (const name of (await readdir(join(PACKAGE_ROOT, 'test', 'fixtures', 'demo-tiny-bert', 'esms'))).sort()) {
    const folder = join(PACKAGE_ROOT, 'test', 'fixtures', 'demo-tiny-bert', 'esms', name);
    const configText = await readFile(join(folder, 'config.json'), 'utf8');
    const repo = hub.store.create('model', `demo/${name}`);
    hub.store.commit(repo, 'main', {
      title: 'ESM',
      files: {
        'config.json': configText,
        'model.safetensors': await readFile(join(folder, 'model.safetensors')),
        'README.md': esmModelCard(JSON.parse(configText)),
      },
    });
  }
  hub.store.create('model', 'google-bert/bert-base-uncased');
  hub.store.rename('model', 'bert-base-uncased', 'google-bert/bert-base-uncased');
  publishEsmPool(hub, { count: 3, dim: 4, baseModel: 'google-bert/bert-base-uncased', owner: 'bert' });
});
afterAll(() => hub.close());

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ESMSELECT_DATA_DIR: mkdtempSync(join(tmpdir(), 'esmselect-cli-hub-')), HF_ENDPOINT: hub.endpoint, HF_TOKEN: READ, HF_HUB_OFFLINE: '', ...extra };
}

describe('esm search and esm coverage', () => {
  it('lists the ESMs of a base model by its old name, and counts ESMs per base model', async () => {
    const search = await runCliAsync(['esm', 'search', '--base-model', 'tiny-bert'], env());
    expect(search.status).toBe(0);
    const lines = search.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^Repo\s+Task ID\s+Base model\s+Downloads\s+Likes\s+Updated$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(Array.from({ length: 12 }, (_, i) => `demo/source-${String(i + 1).padStart(2, '0')}`));
    expect(lines[1]).toContain(`demo/datasets/source-01.csv  ${TINY}`);

    const json = await runCliAsync(['esm', 'search', '--task', 'source-02', '--language', 'EN', '--format', 'json'], env());
    expect(JSON.parse(json.stdout)).toMatchObject([{ repo_id: 'demo/source-02', language: 'en', base_model: TINY }]);

    const coverage = await runCliAsync(['esm', 'coverage'], env());
    expect(
      coverage.stdout
        .split('\n')
        .slice(0, 3)
        .map((line) => line.split(/\s{2,}/)),
    ).toEqual([
      ['Base model', 'ESMs'],
      [TINY, '12'],
      ['google-bert/bert-base-uncased', '3'],
    ]);
  }, 240_000);

  it('prints what strangers wrote (repo card tags) with control characters escaped', async () => {
    const config = esmConfig('evil/\u001b]0;pwned\u0007task', 4, { base_model_name: 'other/evil' });
    // The card as a stranger may write it: the task id in a quoted YAML string, escapes and all.
    const card = esmModelCard(config).replace(/^- evil\/.*$/m, `- ${JSON.stringify(config.task_id)}`);
    publishEsm(hub, { repoId: 'evil/esm', config, weights: esmWeightsFile(new Float32Array(16), new Float32Array(4)), card });
    const search = await runCliAsync(['esm', 'search', '--task', 'evil'], env());
    expect(search.status).toBe(0);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for control characters that reached the terminal.
    expect(search.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f]/);
    expect(search.stdout).toContain('evil/\\u001b]0;pwned\\u0007task');
  }, 120_000);
});

describe('esm pull', () => {
  it("pulls a base model's ESMs with one summary line, then finds them unchanged; the token never shows", async () => {
    const e = env();
    const first = await runCliAsync(['esm', 'pull', '--base-model', 'bert-base-uncased'], e);
    expect(first.status).toBe(0);
    expect(first.stdout.trim()).toBe(
      'google-bert/bert-base-uncased: 3 repos: imported 3, skipped 0 (already registered), unchanged 0 (same commit as the last pull), rejected 0',
    );
    const second = await runCliAsync(['esm', 'pull', '--base-model', 'bert-base-uncased', '--format', 'json'], e);
    expect(JSON.parse(second.stdout)).toMatchObject({ imported: 0, unchanged: 3 });
    for (const output of [first.stdout, first.stderr, second.stdout, second.stderr]) expect(output).not.toContain(READ);
    expect(hub.requests.filter((r) => r.server === 'cdn').every((r) => r.headers.authorization === undefined)).toBe(true);
    const registry = openRegistry({ dataDir: e.ESMSELECT_DATA_DIR });
    try {
      expect(
        listEsms(registry)
          .map((r) => r.origin.replace(/@.*/, ''))
          .sort(),
      ).toEqual(['hf://bert/esm-0000', 'hf://bert/esm-0001', 'hf://bert/esm-0002']);
    } finally {
      registry.close();
    }
  }, 120_000);

  it('says in one line what is wrong with the request', async () => {
    const unknown = await runCliAsync(['esm', 'pull', '--base-model', 'nobody/nothing'], env());
    expect(unknown.status).toBe(2);
    expect(unknown.stderr.trim()).toMatch(/^esmselect: base model nobody\/nothing: not found on the Hub \(404/);
    const badToken = await runCliAsync(['esm', 'search'], env({ HF_TOKEN: 'hf_wrong' }));
    expect(badToken.status).toBe(2);
    expect(badToken.stderr.trim().split('\n')).toHaveLength(1);
    expect(badToken.stderr).toMatch(/the Hub refused the request \(401.*check that HF_TOKEN is valid/);
    expect(badToken.stderr).not.toContain('hf_wrong');
    // A port nothing listens on (any more).
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const down = await runCliAsync(['esm', 'coverage'], env({ HF_ENDPOINT: `http://127.0.0.1:${port}` }));
    expect([down.status, down.stderr.trim()]).toEqual([2, `esmselect: listing the ESMs: cannot reach the Hub at http://127.0.0.1:${port} (ECONNREFUSED)`]);
  }, 180_000);

  it('resumes a killed pull: what it finished stays registered and is not downloaded again', async () => {
    const slow = await startHubStandin({ latencyMs: 60 });
    try {
      publishEsmPool(slow, { count: 16, dim: 8, baseModel: 'some/model' });
      const e: NodeJS.ProcessEnv = { ...env(), HF_ENDPOINT: slow.endpoint, HF_TOKEN: '' };
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'esm', 'pull', '--concurrency', '2'], {
        cwd: PACKAGE_ROOT,
        env: { ...process.env, ...e },
        stdio: 'ignore',
      });
      const exited = new Promise((resolve) => child.on('close', resolve));
      const registered = () => {
        const registry = openRegistry({ dataDir: e.ESMSELECT_DATA_DIR });
        try {
          return listEsms(registry).length;
        } finally {
          registry.close();
        }
      };
      const deadline = Date.now() + 30_000;
      while (registered() < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      child.kill('SIGKILL');
      await exited;
      // What the killed pull recorded: each ESM commits with its repo's row.
      const recorded = () => {
        const registry = openRegistry({ dataDir: e.ESMSELECT_DATA_DIR });
        try {
          return registry.db.prepare('SELECT repo_id FROM hub_sources').pluck().all() as string[];
        } finally {
          registry.close();
        }
      };
      const kept = recorded().length;
      expect(kept).toBe(registered());
      expect(kept).toBeGreaterThanOrEqual(4);
      expect(kept).toBeLessThan(16);
      const before = slow.requests.length;
      const resumed = await runCliAsync(['esm', 'pull', '--format', 'json'], e);
      expect(resumed.status).toBe(0);
      const summary = JSON.parse(resumed.stdout);
      expect(summary.unchanged).toBe(kept);
      expect(summary.imported).toBe(16 - kept);
      expect(registered()).toBe(16);
      expect(recorded()).toHaveLength(16);
      // Repos recorded before the kill were not read again.
      const unchanged = summary.outcomes.filter((o: { status: string }) => o.status === 'unchanged').map((o: { repo: string }) => o.repo);
      const readAgain = slow.requests
        .slice(before)
        .filter((r) => r.url.includes('/resolve/'))
        .map((r) => r.url.split('/resolve/')[0].slice(1));
      expect(readAgain.filter((repo) => unchanged.includes(repo))).toEqual([]);
      expect(new Set(readAgain).size).toBe(16 - kept);
    } finally {
      await slow.close();
    }
  }, 180_000);
});

describe('rank --esms hub', () => {
  it("ranks the Hub's pool for the target's base model as the same ESMs rank from their folders", async () => {
    const e = env();
    const target = [
      '--dataset',
      join(PACKAGE_ROOT, 'test', 'fixtures', 'demo-tiny-bert', 'target.csv'),
      '--text-col',
      'text',
      '--label-col',
      'label',
      '--model',
      'tiny-bert',
      '--format',
      'json',
    ];
    const fromHub = await runCliAsync(['rank', ...target, '--esms', 'hub'], e);
    expect(fromHub.status).toBe(0);
    expect(fromHub.stderr).toContain(`esmselect: ${TINY}: 12 repos: imported 12,`);
    const fromFolders = await runCliAsync(['rank', ...target, '--esms', join(PACKAGE_ROOT, 'test', 'fixtures', 'demo-tiny-bert', 'esms')], e);
    const ranking = (out: string) => JSON.parse(out).ranking.map((t: { task_id: string; score: number }) => [t.task_id, t.score.toFixed(6)]);
    expect(ranking(fromHub.stdout)).toEqual(ranking(fromFolders.stdout));
    expect(ranking(fromHub.stdout)).toHaveLength(12);

    // Again: nothing new to download; the filters narrow the Hub's pool.
    const again = await runCliAsync(['rank', ...target, '--esms', 'hub', '--task', 'source-0'], e);
    expect(again.stderr).toContain('unchanged 12');
    expect(
      ranking(again.stdout)
        .map(([task]: string[]) => task)
        .sort(),
    ).toEqual(Array.from({ length: 9 }, (_, i) => `demo/datasets/source-0${i + 1}.csv`));
  }, 240_000);

  it('needs a base model, and says so in one line', async () => {
    const run = await runCliAsync(['rank', '--embeddings', join(PACKAGE_ROOT, 'test', 'fixtures', 'demo-tiny-bert', 'target.csv'), '--esms', 'hub'], env());
    expect([run.status, run.stderr.trim()]).toEqual([
      2,
      'esmselect: base model: --esms hub ranks the ESMs of one base model; name it with --base-model (or embed with --model)',
    ]);
  });
});

describe('esm push', () => {
  it('publishes a registered ESM as hfselect does, so the Hub lists it under its base model; a missing or read-only token is one line', async () => {
    const e = env({ HF_TOKEN: WRITE });
    const registry = openRegistry({ dataDir: e.ESMSELECT_DATA_DIR });
    await importEsmFolders(registry, [join(PACKAGE_ROOT, 'test', 'fixtures', 'demo-tiny-bert', 'esms', 'source-01')]).finally(() => registry.close());
    const pushed = await runCliAsync(['esm', 'push', '1', '--repo', 'alice/source-01-esm'], e);
    expect(pushed.status).toBe(0);
    expect(pushed.stdout).toMatch(new RegExp(`^pushed #1 to ${hub.endpoint}/alice/source-01-esm \\(new repo, commit [0-9a-f]{12}\\)\\n$`));
    const repo = hub.store.get('model', 'alice/source-01-esm')!;
    const card = hub.store.cardData(repo);
    expect(card).toMatchObject({
      base_model: 'tiny-bert',
      license: 'apache-2.0',
      datasets: ['demo/datasets/source-01.csv'],
      tags: ['embedding_space_map', 'BaseLM:tiny-bert'],
    });
    expect(hub.store.tags(repo)).toContain(`base_model:${TINY}`);
    // Pushed again: the repo is updated.
    const updated = await runCliAsync(['esm', 'push', '1', '--repo', 'alice/source-01-esm'], e);
    expect(updated.stdout).toContain('(updated, commit');
    // hfselect's way of finding ESMs finds it, and pulling it back gives the same ESM.
    const pulled = await runCliAsync(['esm', 'pull', '--repo', 'alice/source-01-esm', '--format', 'json'], e);
    expect(JSON.parse(pulled.stdout)).toMatchObject({ skipped: 1, outcomes: [{ id: 1, reason: 'already registered as #1' }] });

    const anonymous = await runCliAsync(['esm', 'push', '1', '--repo', 'alice/x'], { ...e, HF_TOKEN: '' });
    expect([anonymous.status, anonymous.stderr.trim()]).toEqual([2, 'esmselect: esm push: publishing needs a token with write access in HF_TOKEN']);
    const readOnly = await runCliAsync(['esm', 'push', '1', '--repo', 'bob/x'], { ...e, HF_TOKEN: READ });
    expect(readOnly.status).toBe(2);
    expect(readOnly.stderr.trim()).toMatch(/^esmselect: esm push: bob\/x: the token in HF_TOKEN has no right to this \(403/);
    expect(readOnly.stderr).not.toContain(READ);
  }, 240_000);
});

describe('HF_HUB_OFFLINE=1', () => {
  it('makes every Hub command say so in one line, before any request', async () => {
    const before = hub.requests.length;
    const offline = env({ HF_HUB_OFFLINE: '1' });
    const target = [
      '--dataset',
      join(PACKAGE_ROOT, 'test', 'fixtures', 'demo-tiny-bert', 'target.csv'),
      '--text-col',
      'text',
      '--label-col',
      'label',
      '--model',
      'tiny-bert',
    ];
    for (const args of [
      ['esm', 'search'],
      ['esm', 'coverage'],
      ['esm', 'pull'],
      ['esm', 'push', '1', '--repo', 'alice/x'],
      ['rank', ...target, '--esms', 'hub'],
    ]) {
      const run = await runCliAsync(args, offline);
      expect(run.status).toBe(2);
      expect(run.stderr.trim()).toMatch(/^esmselect: [\w -]+ needs the Hugging Face Hub, but HF_HUB_OFFLINE is set \(unset it to allow network access\)$/);
    }
    expect(hub.requests.length).toBe(before);
  }, 240_000);
});
