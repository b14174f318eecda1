import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBatchProgress } from '../../src/cli/batch-progress.js';
import { writeEmbeddingFile } from '../../src/io/embedding-files.js';
import { REGISTRY_FILE } from '../../src/store/database.js';
import { runCli } from '../helpers/cli.js';
import { readTree } from '../helpers/files.js';
import { writeJson, writeRandomPool } from '../helpers/pool.js';
import { kill, type RunningChild, spawnTs } from '../helpers/processes.js';
import { randomGenerator } from '../helpers/random.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = 'src/cli/main.ts';
const REVIEWS = join(ROOT, 'test', 'fixtures', 'datasets', 'reviews.csv');

let dir: string;
let manifest: string;
/** 3 targets at D = 64 against 300 ESMs, 1 dataset target (tiny-bert, D = 32) against 20: 52 units of 25 ESMs. */
const UNITS = 4 * 13;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'esmselect-cli-batch-'));
  await writeRandomPool(join(dir, 'pool', 'd64'), 300, 64, 21);
  await writeRandomPool(join(dir, 'pool', 'd32'), 20, 32, 22);
  const rng = randomGenerator(23);
  const lines = ['model: tiny-bert', 'targets:', '  - name: reviews', `    dataset: ${REVIEWS}`, '    text_column: [title, text]', '    label_column: label'];
  for (const name of ['one', 'two', 'three']) {
    await writeEmbeddingFile(join(dir, `${name}.npy`), { rows: 100, dim: 64, data: rng.normals(6400) });
    await writeJson(
      join(dir, `${name}.json`),
      Array.from({ length: 100 }, (_, i) => i % (name === 'two' ? 2 : 3)),
    );
    lines.push(`  - name: ${name}`, `    embeddings: ${name}.npy`, `    labels: ${name}.json`);
  }
  manifest = join(dir, 'targets.yaml');
  await writeFile(manifest, `${lines.join('\n')}\n`);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** The TypeScript scorer on one thread: slow enough at D = 64 for a run to be caught in the middle. */
function env(data: string): NodeJS.ProcessEnv {
  return { ESMSELECT_DATA_DIR: join(dir, data), ESMSELECT_MODELS_DIR: join(ROOT, 'models'), ESMSELECT_SCORER: 'typescript' };
}

function batchArgs(out: string, ...extra: string[]): string[] {
  return ['batch-rank', '--targets', manifest, '--esms', join(dir, 'pool'), '--out', join(dir, out), '--shard-size', '25', ...extra];
}

/** Units checkpointed so far, read from the registry as another process writes it (WAL). */
function checkpointed(data: string): number {
  try {
    const db = new Database(join(dir, data, REGISTRY_FILE), { readonly: true, fileMustExist: true });
    try {
      return db.prepare('SELECT count(*) FROM batch_units').pluck().get() as number;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}

async function waitForCheckpoints(child: RunningChild, data: string, atLeast: number): Promise<number> {
  for (let waited = 0; waited < 60_000; waited += 20) {
    const count = checkpointed(data);
    if (count >= atLeast) return count;
    if (child.child.exitCode !== null) throw new Error(`the batch ended before ${atLeast} units were checkpointed:\n${child.lines.join('\n')}`);
    await sleep(20);
  }
  throw new Error(`no ${atLeast} checkpointed units after 60 s:\n${child.lines.join('\n')}`);
}

describe('esmselect batch-rank', () => {
  it('killed with SIGKILL, then stopped with Ctrl-C, continues where it stopped and writes the bytes of an uninterrupted run, embedding nothing twice', async () => {
    const whole = runCli(batchArgs('out-whole'), env('data-whole'));
    expect(whole.stderr).toContain(`plan `);
    expect(whole.status, whole.stderr).toBe(0);
    expect(whole.stderr).toMatch(/target reviews: 20 × 32, classification, embedded/);
    expect(whole.stderr).toMatch(/target one: 100 × 64, classification, read from file/);
    expect(whole.stderr).toContain(`= ${UNITS} units; starting`);

    // SIGKILL part-way: no handler runs, nothing is flushed.
    const first = spawnTs(CLI, batchArgs('out-resumed'), env('data-resumed'));
    await waitForCheckpoints(first, 'data-resumed', 1);
    await kill(first);
    const afterKill = checkpointed('data-resumed');
    expect(afterKill).toBeGreaterThan(0);
    expect(afterKill).toBeLessThan(UNITS);
    expect(first.lines.join('\n')).toMatch(/target reviews: .*, embedded/);

    // Ctrl-C part-way through the resumed run: it stops after the unit in hand and says how to go on.
    const second = spawnTs(CLI, batchArgs('out-resumed'), env('data-resumed'));
    await waitForCheckpoints(second, 'data-resumed', afterKill + 1);
    second.child.kill('SIGINT');
    const { code } = await second.exited;
    const secondLog = second.lines.join('\n');
    expect(code, secondLog).toBe(130);
    expect(secondLog).toContain(`${afterKill} checkpointed, resuming`);
    expect(secondLog).toMatch(/target reviews: .*, embeddings from the cache/);
    const afterInterrupt = checkpointed('data-resumed');
    expect(secondLog).toContain(`interrupted: ${afterInterrupt} of ${UNITS} units are checkpointed; run the same command to continue`);
    expect(afterInterrupt).toBeLessThan(UNITS);

    const last = runCli(batchArgs('out-resumed'), env('data-resumed'));
    expect(last.status, last.stderr).toBe(0);
    expect(last.stderr).toContain(`${afterInterrupt} checkpointed, resuming`);
    expect(last.stderr).toMatch(/target reviews: .*, embeddings from the cache/);
    expect(last.stderr).toContain(`computed ${UNITS - afterInterrupt} of ${UNITS} units`);

    const expected = await readTree(join(dir, 'out-whole'));
    expect([...expected.keys()]).toEqual([
      'batch.json',
      'rankings/one.csv',
      'rankings/one.jsonl',
      'rankings/one.parquet',
      'rankings/reviews.csv',
      'rankings/reviews.jsonl',
      'rankings/reviews.parquet',
      'rankings/three.csv',
      'rankings/three.jsonl',
      'rankings/three.parquet',
      'rankings/two.csv',
      'rankings/two.jsonl',
      'rankings/two.parquet',
      'report.html',
      'summary-scores.csv',
      'summary.csv',
    ]);
    expect(await readTree(join(dir, 'out-resumed'))).toEqual(expected);
    // The batch ranks as `esmselect rank` does, target by target.
    const single = runCli(
      ['rank', '--embeddings', join(dir, 'two.npy'), '--labels', join(dir, 'two.json'), '--esms', join(dir, 'pool'), '--format', 'csv'],
      env('data-whole'),
    );
    expect(`${single.stdout}`).toBe(expected.get('rankings/two.csv')!.toString());
  });

  it('refuses bad input with one line and exit status 2', async () => {
    await writeFile(join(dir, 'bad.yaml'), '- embeddings: x.npy\n  colour: red\n');
    const bad = runCli(['batch-rank', '--targets', join(dir, 'bad.yaml'), '--esms', join(dir, 'pool'), '--out', join(dir, 'out-bad')], env('data-bad'));
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^esmselect: targets: .*bad\.yaml: entry 1: unknown field "colour"$/)]);
    const queue = runCli(batchArgs('out-bad', '--queue', 'http://localhost:1'), env('data-bad'));
    expect(queue.status).toBe(2);
    expect(queue.stderr).toMatch(/esmselect: --queue: "http:\/\/localhost:1" is not a redis:\/\/ URL/);
  });
});

describe('batch progress without a terminal', () => {
  it('prints plain lines with pairs, rate, ETA, targets and units', () => {
    const written: string[] = [];
    const write = process.stderr.write;
    const tty = process.stderr.isTTY;
    process.stderr.isTTY = false;
    process.stderr.write = ((chunk: string) => written.push(chunk) > 0) as typeof process.stderr.write;
    try {
      const display = createBatchProgress(0);
      display.update({ units: { done: 3, total: 10 }, pairs: { done: 300, total: 1000 }, targets: { done: 1, total: 2 }, pairsThisRun: 200 });
      display.stop();
    } finally {
      process.stderr.write = write;
      process.stderr.isTTY = tty;
    }
    expect(written).toHaveLength(2);
    expect(written[0]).toMatch(/^esmselect: batch: 300\/1000 target × ESM pairs \(\d+\.\d ESMs\/s, ETA \S+\); targets 1\/2 done; units 3\/10\n$/);
  });
});
