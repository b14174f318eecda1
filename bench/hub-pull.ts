import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../src/config.js';
import { UserInputError } from '../src/errors.js';
import { DEFAULT_CONCURRENCY } from '../src/registry/pull.js';
import { openRegistry } from '../src/store/database.js';
import { listEsms } from '../src/store/esms.js';
import type { WayRun } from './hub-pull-run.js';

/**
 * `npm run bench hub-pull [COUNT] [DIM] [LATENCY_MS] [CONCURRENCY]` (default 1000 768 50 8): pulling
 * COUNT ESMs of dimension DIM from the Hub stand-in (its own process, LATENCY_MS added to every
 * request), hfselect's way (one repo after another, `fetch_esms`) against `esm pull`, in the same run,
 * each way in a process of its own (its peak RSS its own), each into an empty registry. Both must
 * register the same ESMs.
 */
const here = fileURLToPath(import.meta.url);
const RUNNER = join(dirname(here), `hub-pull-run${extname(here)}`);
const STANDIN = join(PACKAGE_ROOT, 'test', 'helpers', 'hub', 'standin-process.ts');

/** The first line a child prints on stdout, as JSON; its stderr goes to ours. */
function firstLine<T>(child: ReturnType<typeof spawn>): Promise<T> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => resolve(JSON.parse(line) as T));
    child.once('close', (code) => reject(new Error(`${child.spawnargs.slice(-4).join(' ')} exited with ${code} before printing its result`)));
  });
}

function runWay(way: WayRun['way'], endpoint: string, dataDir: string, concurrency: number): Promise<WayRun> {
  const execArgv = extname(here) === '.ts' ? ['--import', 'tsx'] : [];
  const child = spawn(process.execPath, [...execArgv, RUNNER, way, endpoint, dataDir, String(concurrency)], {
    cwd: PACKAGE_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return firstLine<WayRun>(child);
}

function identities(dataDir: string): string[] {
  const registry = openRegistry({ dataDir });
  try {
    return listEsms(registry)
      .map((esm) => esm.identity)
      .sort();
  } finally {
    registry.close();
  }
}

export async function hubPullBenchmark(args: readonly string[]): Promise<void> {
  const [count, dim, latencyMs, concurrency] = [1000, 768, 50, DEFAULT_CONCURRENCY].map((fallback, i) => (args[i] === undefined ? fallback : Number(args[i])));
  if (![count, dim, latencyMs, concurrency].every((n) => Number.isSafeInteger(n) && n >= 0) || count === 0 || dim === 0 || concurrency === 0) {
    throw new UserInputError('usage: npm run bench hub-pull [COUNT] [DIM] [LATENCY_MS] [CONCURRENCY]');
  }
  const dir = await mkdtemp(join(tmpdir(), 'esmselect-bench-hub-'));
  process.stderr.write(`hub-pull: publishing ${count} ESMs of dimension ${dim} on the stand-in ...\n`);
  const standin = spawn(process.execPath, ['--import', 'tsx', STANDIN, String(count), String(dim), String(latencyMs)], {
    cwd: PACKAGE_ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    const { endpoint } = await firstLine<{ endpoint: string }>(standin);
    const loadBefore = loadavg()[0];
    const runs: WayRun[] = [];
    for (const way of ['hfselect', 'esmselect'] as const) {
      process.stderr.write(`hub-pull: ${way} ...\n`);
      runs.push(await runWay(way, endpoint, join(dir, way), concurrency));
    }
    const [reference, ours] = runs;
    const same = JSON.stringify(identities(join(dir, 'hfselect'))) === JSON.stringify(identities(join(dir, 'esmselect')));
    const mib = (count * ((dim * dim + dim) * 4)) / 2 ** 20;
    process.stdout.write(
      `hub-pull: ${count} ESMs of dimension ${dim} (${mib.toFixed(0)} MiB of weights), ${latencyMs} ms added to every request of the stand-in\n`,
    );
    // Both ways are partly CPU-bound (parsing, hashing, sketching): what else ran on the cores matters.
    process.stdout.write(`${availableParallelism()} cores, load average (1 min) ${loadBefore.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after\n`);
    process.stdout.write('way                                           wall s   ESMs/s    CPU s   peak RSS MiB   registered\n');
    for (const run of runs) {
      const name = run.way === 'hfselect' ? "hfselect's way: one repo after another" : `esm pull, concurrency ${concurrency}`;
      process.stdout.write(
        `${name.padEnd(44)} ${run.seconds.toFixed(1).padStart(7)} ${(run.registered / run.seconds).toFixed(1).padStart(8)} ${run.cpuSeconds.toFixed(1).padStart(8)} ${run.maxRssMiB.toFixed(0).padStart(14)} ${String(run.registered).padStart(12)}\n`,
      );
    }
    process.stdout.write(`esm pull is ${(reference.seconds / ours.seconds).toFixed(1)}x faster; same ESMs registered: ${same ? 'yes' : 'NO'}\n`);
    if (!same || ours.registered !== count || reference.registered !== count) process.exitCode = 1;
  } finally {
    standin.stdin!.end();
    standin.kill();
    await rm(dir, { recursive: true, force: true });
  }
}
