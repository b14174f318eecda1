/**
 * `npm run bench -- --pool DIR [--pool DIR…]`: esmselect against the reference harness (hfselect's
 * LogME, ../shared/anchor/score.py) on anchor pools, measured in the same run and interleaved
 * (ours preloaded, ours streamed, reference; repeated), reported as medians with their ratio.
 */
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { positiveInteger } from '../src/cli/errors.js';
import { PACKAGE_ROOT } from '../src/config.js';
import { SCORER_NAMES } from '../src/rank/scorers.js';
import { buildReplicatedPool } from './replica.js';
import { type OurRun, type ReferenceRun, runOurs, runReference } from './runs.js';

interface BenchFlags {
  pool: string[];
  repeat: number;
  reference: boolean;
  anchor: string;
  python: string;
  scorer?: string;
  threads?: number;
  replicate?: number;
  from?: string;
  work: string;
}

interface PoolRuns {
  readonly pool: string;
  readonly n: number;
  readonly d: number;
  readonly preloaded: OurRun[];
  readonly streamed: OurRun[];
  readonly reference: ReferenceRun[];
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

function rate<T extends { scored: number }>(runs: readonly T[], seconds: (run: T) => number): number {
  return median(runs.map((run) => run.scored / seconds(run)));
}

function agreement(ours: OurRun, reference: ReferenceRun): { maxRelative: number; sameRanking: boolean } {
  let maxRelative = 0;
  for (const [task, score] of Object.entries(ours.scores)) {
    const expected = reference.scores[task];
    maxRelative = Math.max(maxRelative, expected === null || expected === undefined ? Infinity : Math.abs(score - expected) / Math.abs(expected));
  }
  return { maxRelative, sameRanking: JSON.stringify(ours.ranking) === JSON.stringify(reference.ranking) };
}

async function poolShape(pool: string): Promise<{ n: number; d: number }> {
  const meta = JSON.parse(await readFile(join(pool, 'target', 'meta.json'), 'utf8')) as { n: number; d: number };
  return { n: meta.n, d: meta.d };
}

const fixed = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : '–');

function table(results: readonly PoolRuns[]): string {
  const lines = [
    '| pool | N | D | ESMs | ours ESMs/s (scoring) | reference ESMs/s (scoring) | ratio | ours ESMs/s (end-to-end) | reference ESMs/s (end-to-end) | ratio | peak RSS ours (streamed) | peak RSS reference | max rel. diff | same ranking |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of results) {
    const oursScoring = rate(r.preloaded, (run: OurRun) => run.seconds);
    const oursEnd = rate(r.streamed, (run: OurRun) => run.seconds);
    const hasReference = r.reference.length > 0;
    const refScoring = hasReference ? rate(r.reference, (run: ReferenceRun) => run.secondsTotal) : NaN;
    const refEnd = hasReference ? rate(r.reference, (run: ReferenceRun) => run.secondsLoad + run.secondsTotal) : NaN;
    const rss = median(r.streamed.map((run) => run.maxRssMiB));
    const refRss =
      hasReference && r.reference.every((run) => run.maxRssMiB !== null) ? `${fixed(median(r.reference.map((run) => run.maxRssMiB!)), 0)} MiB` : '–';
    const checks = hasReference ? [...r.preloaded, ...r.streamed].map((run) => agreement(run, r.reference[0])) : [];
    const maxRelative = checks.length ? Math.max(...checks.map((c) => c.maxRelative)).toExponential(1) : '–';
    const same = checks.length ? (checks.every((c) => c.sameRanking) ? 'yes' : 'NO') : '–';
    lines.push(
      `| ${basename(r.pool)} | ${r.n} | ${r.d} | ${r.preloaded[0]?.scored ?? '–'} | ${fixed(oursScoring)} | ${fixed(refScoring)} | ${fixed(oursScoring / refScoring)}× | ${fixed(oursEnd)} | ${fixed(refEnd)} | ${fixed(oursEnd / refEnd)}× | ${fixed(rss, 0)} MiB | ${refRss} | ${maxRelative} | ${same} |`,
    );
  }
  return lines.join('\n');
}

async function bench(flags: BenchFlags): Promise<void> {
  const env = { ...process.env };
  if (flags.scorer) env.ESMSELECT_SCORER = flags.scorer;
  if (flags.threads) env.ESMSELECT_THREADS = String(flags.threads);
  let referenceProblem: string | undefined = flags.reference ? undefined : 'not requested (--no-reference)';
  const results: PoolRuns[] = [];
  for (const pool of flags.pool.map((p) => resolve(p))) results.push({ pool, ...(await poolShape(pool)), preloaded: [], streamed: [], reference: [] });

  for (let repeat = 1; repeat <= flags.repeat; repeat++) {
    for (const r of results) {
      process.stderr.write(`bench: round ${repeat}/${flags.repeat}, ${basename(r.pool)}\n`);
      r.preloaded.push(await runOurs(r.pool, 'preloaded', env));
      r.streamed.push(await runOurs(r.pool, 'streamed', env));
      if (referenceProblem) continue;
      try {
        r.reference.push(await runReference(r.pool, flags.anchor, flags.python));
      } catch (error) {
        referenceProblem = (error as Error).message;
      }
    }
  }
  const scorer = results[0]?.preloaded[0]?.scorer ?? '';
  process.stdout.write(`esmselect ${scorer}\n`);
  process.stdout.write(
    `reference: ${referenceProblem ? `unavailable (${referenceProblem}); ours only` : `${flags.python} ${join(flags.anchor, 'score.py')} (default threads)`}\n`,
  );
  process.stdout.write(`medians of ${flags.repeat} interleaved round(s)\n\n${table(results)}\n`);

  if (flags.replicate) {
    const from = resolve(flags.from ?? flags.pool[0]);
    const dir = await buildReplicatedPool(from, flags.replicate, join(flags.work, `esmselect-bench-${basename(from)}-x${flags.replicate}`));
    process.stderr.write(`bench: streaming ${flags.replicate} ESMs (hard links to ${basename(from)}'s) from ${dir}\n`);
    try {
      const run = await runOurs(dir, 'streamed', env);
      const source = results.find((r) => r.pool === from);
      const refRate = source?.reference.length ? rate(source.reference, (ref: ReferenceRun) => ref.secondsTotal) : NaN;
      const ours = run.scored / run.seconds;
      process.stdout.write(
        `\nstreamed pool of ${run.scored} ESMs (D=${source?.d ?? '?'}, target of ${basename(from)}): ${fixed(run.seconds)} s end-to-end, ` +
          `${fixed(ours)} ESMs/s, peak RSS ${fixed(run.maxRssMiB, 0)} MiB` +
          (Number.isFinite(refRate)
            ? `; reference scoring rate on ${basename(from)} in this run: ${fixed(refRate)} ESMs/s (ratio ${fixed(ours / refRate)}×)\n`
            : '\n'),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

const program = new Command('npm run bench --')
  .description('esmselect vs the reference harness on anchor pools (ESMs/s, ratio, peak RSS)')
  .option('--pool <dir...>', 'anchor pool directories (make_pool.py layout: target/ and esms/)', [])
  .option('--repeat <k>', 'interleaved rounds; medians are reported', positiveInteger, 3)
  .option('--no-reference', 'measure esmselect only')
  .option('--anchor <dir>', 'the reference harness directory', process.env.ESMSELECT_ANCHOR ?? resolve(PACKAGE_ROOT, '..', 'shared', 'anchor'))
  .option('--python <path>', 'Python with numpy (and torch) for the reference', process.env.ESMSELECT_ANCHOR_PYTHON ?? '/usr/bin/python3')
  .addOption(new Option('--scorer <name>', 'esmselect scorer (default: automatic)').choices(SCORER_NAMES))
  .option('--threads <n>', 'threads of the native scorer (default: all cores)', positiveInteger)
  .option('--replicate <count>', 'also stream a pool of this many ESMs hard-linked from --from (memory and progress check)', positiveInteger)
  .option('--from <dir>', 'source pool for --replicate (default: the first --pool)')
  .option('--work <dir>', 'where the replicated pool is built', tmpdir())
  .action(async (flags: BenchFlags) => {
    if (flags.pool.length === 0 && !(flags.replicate && flags.from)) throw new Error('give at least one --pool (or --replicate with --from)');
    await bench(flags);
  });

/** The scoring benchmark, given its command-line arguments. */
export async function scoringBenchmark(args: readonly string[]): Promise<void> {
  await program.parseAsync([...args], { from: 'user' });
}
