import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHfselectEsm } from '../../src/esm/hfselect.js';
import { folderPool } from '../../src/esm/pool.js';
import { writeEmbeddingFile } from '../../src/io/embedding-files.js';
import { rankPool } from '../../src/rank/ranking.js';
import { prepareTarget } from '../../src/rank/target.js';
import { checkRegistry, isHealthy } from '../../src/registry/doctor.js';
import { loadRegisteredEsm } from '../../src/registry/esms.js';
import { registryPool } from '../../src/registry/pool.js';
import { openRegistry } from '../../src/store/database.js';
import { listEsms } from '../../src/store/esms.js';
import { encodeClassLabels } from '../../src/task/labels.js';
import { writeRandomPool } from '../helpers/pool.js';
import { kill, spawnTs } from '../helpers/processes.js';
import { randomGenerator } from '../helpers/random.js';

const CHILD = 'test/helpers/registry-child.ts';
const CLI = 'src/cli/main.ts';
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'esmselect-faults-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * What must hold after any crash: every row's file is there and verifies, and the only other files
 * are dead writers' leftovers, at most one per killed writer (the ESM it was writing: a temporary
 * file, or a complete weights file whose row was not committed).
 */
async function expectConsistent(dataDir: string, killedWriters: number): Promise<{ rows: number; orphans: number }> {
  const registry = openRegistry({ dataDir });
  try {
    const report = await checkRegistry(registry);
    expect(report.integrity).toEqual(['ok']);
    expect(report.broken).toEqual([]);
    expect(report.temporary.every((t) => !t.running)).toBe(true);
    expect(report.orphans.length + report.temporary.length).toBeLessThanOrEqual(killedWriters);
    for (const record of listEsms(registry)) {
      const esm = await loadRegisteredEsm(registry, record);
      const original = await loadHfselectEsm(record.origin);
      expect(esm.weight).toEqual(original.weight);
    }
    return { rows: report.counts.esms, orphans: report.orphans.length };
  } finally {
    registry.close();
  }
}

function lastProgress(lines: readonly string[]): number {
  return Math.max(
    0,
    ...lines
      .map((l) => /^progress (\d+)\//.exec(l))
      .filter((m) => m !== null)
      .map((m) => Number(m[1])),
  );
}

describe('integrity under SIGKILL', () => {
  it('a bulk import killed again and again keeps only complete, verified ESMs, and a rerun completes it', async () => {
    const pool = join(dir, 'import-pool');
    const folders = await writeRandomPool(pool, 160, 16, 7);
    const dataDir = join(dir, 'import-data');
    const env = { ESMSELECT_DATA_DIR: dataDir };
    // Kill right after a reported commit, and at arbitrary moments after one (mid-write, mid-commit).
    const kills = [
      [10, 0],
      [40, 3],
      [70, 11],
    ];
    for (const [i, [after, delayMs]] of kills.entries()) {
      const child = spawnTs(CHILD, ['import', pool], env);
      await child.waitForLine(new RegExp(`^progress ${after}/`));
      await sleep(delayMs);
      await kill(child);
      const reported = lastProgress(child.lines);
      const { rows } = await expectConsistent(dataDir, i + 1);
      // Everything reported as done survived, and the import went in order, without gaps.
      expect(rows).toBeGreaterThanOrEqual(reported);
      expect(rows).toBeLessThan(folders.length);
      const registry = openRegistry({ dataDir });
      expect(listEsms(registry).map((r) => r.origin)).toEqual(folders.slice(0, rows));
      registry.close();
    }

    const before = (await expectConsistent(dataDir, kills.length)).rows;
    const rerun = spawnTs(CLI, ['esm', 'import', pool, '--format', 'json'], env);
    expect(await rerun.exited).toEqual({ code: 0, signal: null });
    const summary = JSON.parse(rerun.stdout());
    expect(summary).toMatchObject({ imported: folders.length - before, skipped: before, rejected: 0 });

    const doctor = spawnTs(CLI, ['doctor', '--cleanup'], env);
    expect((await doctor.exited).code).toBe(0);
    const registry = openRegistry({ dataDir });
    const final = await checkRegistry(registry);
    expect(isHealthy(final)).toBe(true);
    expect(listEsms(registry).map((r) => r.origin)).toEqual(folders);
    registry.close();
  });

  it('a writer killed between its weights file and its row leaves an orphan that doctor reports; cleanup removes it, or a re-import adopts it', async () => {
    const [folder, other] = await writeRandomPool(join(dir, 'stall-pool'), 2, 16, 8);
    const dataDir = join(dir, 'stall-data');
    const env = { ESMSELECT_DATA_DIR: dataDir };
    for (const esm of [folder, other]) {
      const child = spawnTs(CHILD, ['stall', esm], env);
      await child.waitForLine(/^stored /);
      await kill(child);
    }
    const registry = openRegistry({ dataDir });
    const report = await checkRegistry(registry);
    expect(report.counts.esms).toBe(0);
    expect(report.orphans).toHaveLength(2);
    expect(isHealthy(report)).toBe(false);
    const doctor = spawnTs(CLI, ['doctor'], env);
    expect((await doctor.exited).code).toBe(3);
    expect(doctor.lines.filter((l) => l.startsWith('orphan esms/'))).toHaveLength(2);

    const imported = spawnTs(CLI, ['esm', 'import', folder], env);
    expect((await imported.exited).code).toBe(0);
    const adopted = await checkRegistry(registry);
    expect(adopted.counts.esms).toBe(1);
    expect(adopted.orphans).toHaveLength(1);
    const cleaned = await checkRegistry(registry, { cleanup: true });
    expect(cleaned.removed).toEqual(adopted.orphans);
    expect(isHealthy(cleaned)).toBe(true);
    registry.close();
  });

  it('a training run killed mid-way registers nothing; a rerun registers a complete ESM', async () => {
    const rng = randomGenerator(21);
    const n = 3000;
    const d = 32;
    const base = rng.normals(n * d);
    const tuned = Float32Array.from(base, (v, i) => v * 0.9 + 0.01 * (i % d));
    await writeEmbeddingFile(join(dir, 'base.npy'), { rows: n, dim: d, data: base });
    await writeEmbeddingFile(join(dir, 'tuned.npy'), { rows: n, dim: d, data: tuned });
    const dataDir = join(dir, 'train-data');
    const env = { ESMSELECT_DATA_DIR: dataDir };
    const args = [
      'esm',
      'train',
      '--base',
      join(dir, 'base.npy'),
      '--tuned',
      join(dir, 'tuned.npy'),
      '--task-id',
      'test/killed',
      '--base-model',
      'test/encoder',
    ];

    const child = spawnTs(CLI, [...args, '--epochs', '1000'], env);
    await child.waitForLine(/^epoch 3\/1000: loss /);
    await kill(child);
    const afterKill = await expectConsistent(dataDir, 1);
    expect(afterKill).toEqual({ rows: 0, orphans: 0 });

    const rerun = spawnTs(CLI, [...args, '--epochs', '3'], env);
    expect(await rerun.exited).toEqual({ code: 0, signal: null });
    expect(rerun.lines).toContainEqual(expect.stringMatching(/^registered as #1 test\/killed: held-out R² 0\.\d+ on 300 pairs$/));
    const registry = openRegistry({ dataDir });
    const [record] = listEsms(registry);
    expect(record.training?.epochLosses).toHaveLength(3);
    expect(isHealthy(await checkRegistry(registry))).toBe(true);
    registry.close();
  });
});

describe('concurrency', () => {
  it('readers rank from the registry while two writers import the same pool: no SQLITE_BUSY, no duplicates, consistent scores', async () => {
    const pool = join(dir, 'busy-pool');
    const folders = await writeRandomPool(pool, 400, 16, 9);
    const dataDir = join(dir, 'busy-data');
    const env = { ESMSELECT_DATA_DIR: dataDir };
    const rng = randomGenerator(4);
    const rows = 80;
    const embeddings = { rows, dim: 16, data: rng.normals(rows * 16) };
    const labels = Array.from({ length: rows }, (_, i) => i % 3);
    await writeEmbeddingFile(join(dir, 'target.npy'), embeddings);
    await writeEmbeddingFile(join(dir, 'target-labels.jsonl'), embeddings, {}, labels);
    const target = prepareTarget(embeddings, encodeClassLabels(labels));
    const folderRanking = await rankPool(target, (await folderPool([pool])).entries(), folders.length);
    const expected = new Map(folderRanking.ranking.map((t) => [t.task_id, t.score]));

    openRegistry({ dataDir }).close();
    const writers = [spawnTs(CHILD, ['import', pool], env), spawnTs(CHILD, ['import', pool], env)];
    await writers[0].waitForLine(/^progress \d+\//);
    // The TypeScript scorer, as in this process, so the scores can be compared bit for bit.
    const readerEnv = { ...env, ESMSELECT_SCORER: 'typescript' };
    const cliReaders = [0, 1].map(() =>
      spawnTs(CLI, ['rank', '--embeddings', join(dir, 'target-labels.jsonl'), '--esms', 'registry', '--format', 'json'], readerEnv),
    );
    const reader = openRegistry({ dataDir });
    const seen: number[] = [];
    let writing = true;
    void Promise.all(writers.map((w) => w.exited)).then(() => (writing = false));
    while (writing) {
      const result = await rankPool(target, registryPool(reader).entries(), 0);
      expect(result.rejected).toEqual([]);
      for (const task of result.ranking) expect(task.score).toBe(expected.get(task.task_id));
      seen.push(result.considered);
    }
    reader.close();

    for (const writer of writers) expect(await writer.exited).toEqual({ code: 0, signal: null });
    const summaries = writers.map((w) => JSON.parse(w.lines.find((l) => l.startsWith('done '))!.slice(5)));
    expect(summaries[0].imported + summaries[1].imported).toBe(folders.length);
    expect(summaries.every((s) => s.imported + s.skipped === folders.length)).toBe(true);
    for (const cli of cliReaders) {
      expect(await cli.exited).toEqual({ code: 0, signal: null });
      const result = JSON.parse(cli.stdout());
      for (const task of result.ranking) expect(task.score).toBe(expected.get(task.task_id));
    }
    const everyOutput = [...writers, ...cliReaders].flatMap((p) => p.lines).join('\n');
    expect(everyOutput).not.toMatch(/SQLITE_BUSY|database is locked/);
    // The readers saw the registry grow while the writers worked.
    expect(seen.some((considered) => considered > 0 && considered < folders.length)).toBe(true);

    const registry = openRegistry({ dataDir });
    expect(listEsms(registry)).toHaveLength(folders.length);
    expect(isHealthy(await checkRegistry(registry))).toBe(true);
    registry.close();
  });
});
