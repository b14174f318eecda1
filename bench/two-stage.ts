import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createProgress } from '../src/cli/progress.js';
import { EmbeddingSpaceMap } from '../src/esm/esm.js';
import { rank } from '../src/rank/rank.js';
import { prepareTargetFor } from '../src/rank/ranking.js';
import { selectScorer } from '../src/rank/scorers.js';
import { DEFAULT_CANDIDATES, FIRST_STAGES, type FirstStageName, type TwoStageRankingResult } from '../src/rank/two-stage.js';
import { registerEsm } from '../src/registry/esms.js';
import { registryPool } from '../src/registry/pool.js';
import { rebuildSourceIndexes } from '../src/retrieval/source-index.js';
import { openRegistry, type Registry } from '../src/store/database.js';
import { registrySource } from '../src/store/esms.js';
import { putSourceVectors } from '../src/store/source-vectors.js';
import { encodeLabels } from '../src/task/labels.js';
import { type SyntheticTarget, SyntheticWorld } from './synthetic-tasks.js';

const SPACE = { model: 'bench/encoder', pooling: 'mean' };
const WORLD_SEED = 1;

interface PoolSpec {
  readonly size: number;
  readonly dim: number;
  /** Sources share this many weights files (source i has weights i mod distinct); all distinct when unset. */
  readonly distinct?: number;
}

interface Pool {
  readonly registry: Registry;
  readonly world: SyntheticWorld;
  /** Seconds to build the HNSW index of all source vectors (measured when the pool was built). */
  readonly indexSeconds: number;
}

async function seconds<T>(work: () => Promise<T> | T): Promise<[T, number]> {
  const started = performance.now();
  const value = await work();
  return [value, (performance.now() - started) / 1000];
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/**
 * A registry holding `size` synthetic source tasks (ESM + TextEmb vector each) and the HNSW index of
 * their vectors, built through the library (registerEsm, putSourceVectors, rebuildSourceIndexes)
 * under `dir`, or reused when `dir` already holds the same pool (manifest.json).
 */
async function openPool(dir: string, spec: PoolSpec): Promise<Pool> {
  const world = new SyntheticWorld({ dim: spec.dim, seed: WORLD_SEED });
  const manifestPath = join(dir, 'manifest.json');
  const manifest = JSON.stringify({ ...spec, seed: WORLD_SEED, generator: 'esmselect-bench-two-stage-v2' });
  if (existsSync(manifestPath)) {
    const saved = JSON.parse(await readFile(manifestPath, 'utf8')) as { pool: string; indexSeconds: number };
    if (saved.pool === manifest) {
      process.stderr.write(`bench: reusing the pool in ${dir}\n`);
      return { registry: openRegistry({ dataDir: dir }), world, indexSeconds: saved.indexSeconds };
    }
  }
  await rm(dir, { recursive: true, force: true });
  const registry = openRegistry({ dataDir: dir });
  const progress = createProgress(`Building a pool of ${spec.size} sources (D=${spec.dim})`, 'sources');
  const shared = spec.distinct ? Array.from({ length: spec.distinct }, (_, j) => world.sourceEsm(j, `bench/s${j}`, SPACE.model)) : [];
  for (let i = 0; i < spec.size; i++) {
    const taskId = `bench/s${String(i).padStart(5, '0')}`;
    const twin = shared[i % (spec.distinct ?? 1)];
    const esm = twin ? new EmbeddingSpaceMap({ ...twin.config, task_id: taskId }, twin.weight, twin.bias) : world.sourceEsm(i, taskId, SPACE.model);
    const { record } = await registerEsm(registry, esm, { origin: 'bench' });
    putSourceVectors(registry, [record.identity], { ...SPACE, vector: world.sourceVector(i), texts: 1000, texts_sha256: 'synthetic' });
    progress.update(i + 1, spec.size);
  }
  progress.stop();
  const [, indexSeconds] = await seconds(() => rebuildSourceIndexes(registry));
  await writeFile(manifestPath, JSON.stringify({ pool: manifest, indexSeconds }));
  return { registry, world, indexSeconds };
}

/** Target t of T: a new task from the topic cluster of a source spread evenly over the pool. */
function targetOf(world: SyntheticWorld, t: number, targets: number, size: number, rows: number): SyntheticTarget {
  return world.target(t, Math.floor(((t + 0.5) * size) / targets), rows);
}

const top = (result: TwoStageRankingResult, k: number) => result.ranking.slice(0, k).map((task) => task.source);

interface Trial {
  readonly seconds: number;
  readonly sameTop5: boolean;
  readonly recallTop5: number;
  readonly recallTopK: number;
  readonly firstSeconds: number;
}

function trial(exhaustive: TwoStageRankingResult, twoStage: TwoStageRankingResult, elapsed: number): Trial {
  const truth = top(exhaustive, 5);
  const found = top(twoStage, 5);
  const selected = new Set(twoStage.ranking.filter((t) => t.similarity !== null).map((t) => t.source));
  return {
    seconds: elapsed,
    sameTop5: JSON.stringify(found) === JSON.stringify(truth),
    recallTop5: truth.filter((s) => found.includes(s)).length / truth.length,
    recallTopK: truth.filter((s) => selected.has(s)).length / truth.length,
    firstSeconds: twoStage.stages.first?.seconds ?? 0,
  };
}

const fixed = (x: number, digits = 2) => x.toFixed(digits);
const percent = (x: number) => `${Math.round(100 * x)} %`;

/**
 * Recall: exhaustive ESM-LogME against two-stage ranking with each first stage and K, over targets
 * drawn near the pool's topic clusters: how often the two-stage top-5 equals the exhaustive top-5
 * (same sources, same order), the share of the exhaustive top-5 in the two-stage top-5 and among
 * the K candidates, and the time of an answer against the exhaustive one.
 */
async function recall(flags: Flags): Promise<void> {
  for (const size of flags.sizes) {
    const pool = await openPool(join(flags.work, `esmselect-bench-two-stage-d${flags.dim}-${size}`), { size, dim: flags.dim });
    const trials = new Map<string, Trial[]>();
    const exhaustiveSeconds: number[] = [];
    try {
      for (let t = 0; t < flags.targets; t++) {
        const target = targetOf(pool.world, t, flags.targets, size, flags.n);
        process.stderr.write(`bench: ${size} sources, target ${t + 1}/${flags.targets}\n`);
        const ask = (candidates: number | 'all', firstStage?: FirstStageName) =>
          seconds(() => rank({ ...target, esms: registryPool(pool.registry), candidates, firstStage }));
        const [exhaustive, elapsed] = await ask('all');
        exhaustiveSeconds.push(elapsed);
        for (const stage of FIRST_STAGES) {
          for (const k of flags.candidates) {
            const [twoStage, took] = await ask(k, stage);
            const key = `${stage}\t${k}`;
            trials.set(key, [...(trials.get(key) ?? []), trial(exhaustive, twoStage, took)]);
          }
        }
      }
    } finally {
      pool.registry.close();
    }
    const reference = median(exhaustiveSeconds);
    const lines = [
      `\n### ${size} sources, D=${flags.dim}, N=${flags.n}, ${flags.targets} targets (HNSW index built in ${fixed(pool.indexSeconds)} s)\n`,
      '| first stage | K | top-5 = exhaustive | exhaustive top-5 in two-stage top-5 | … in the K candidates | median answer | × exhaustive | median stage 1 |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      `| exhaustive (reference) | all | | | | ${fixed(reference)} s | 1.00 | |`,
    ];
    for (const [key, runs] of trials) {
      const [stage, k] = key.split('\t');
      const mean = (pick: (r: Trial) => number) => runs.reduce((s, r) => s + pick(r), 0) / runs.length;
      const answer = median(runs.map((r) => r.seconds));
      lines.push(
        `| ${stage} | ${k} | ${percent(mean((r) => +r.sameTop5))} | ${fixed(mean((r) => r.recallTop5))} | ${fixed(mean((r) => r.recallTopK))} | ${fixed(answer)} s | ${fixed(answer / reference, 3)} | ${fixed(median(runs.map((r) => r.firstSeconds)), 3)} s |`,
      );
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}

/**
 * Time at scale: a pool of `size` sources at D (default 10,000 at 768) whose ESMs share `distinct`
 * weights files, so it fits the disk; its TextEmb vectors are all distinct. Exhaustive ranking
 * would score every source; it is measured on a sample of `sample` sources and extrapolated
 * (target preparation once, plus the per-source cost times the pool). Two-stage answers are
 * measured in full, for both first stages.
 */
async function timing(flags: Flags): Promise<void> {
  const size = flags.sizes[flags.sizes.length - 1];
  const spec = { size, dim: flags.dim, distinct: flags.distinct };
  const pool = await openPool(join(flags.work, `esmselect-bench-two-stage-d${flags.dim}-${size}-shared${flags.distinct}`), spec);
  const lines: string[] = [];
  try {
    const answers = new Map<FirstStageName, TwoStageRankingResult[]>();
    const times = new Map<FirstStageName, number[]>();
    const perSource: number[] = [];
    const preparing: number[] = [];
    const { scorer } = await selectScorer();
    for (let t = 0; t < flags.targets; t++) {
      const target = targetOf(pool.world, t, flags.targets, size, flags.n);
      process.stderr.write(`bench: timing, target ${t + 1}/${flags.targets}\n`);
      const [, prepare] = await seconds(() => prepareTargetFor(scorer, target.embeddings, encodeLabels(target.labels, 'classification')));
      preparing.push(prepare);
      const sample = registryPool(pool.registry).subset(
        Array.from({ length: flags.sample }, (_, i) => registrySource(1 + Math.floor((i * size) / flags.sample))),
      );
      const [, sampled] = await seconds(() => rank({ ...target, esms: sample }));
      perSource.push((sampled - prepare) / flags.sample);
      for (const stage of FIRST_STAGES) {
        const [answer, took] = await seconds(() => rank({ ...target, esms: registryPool(pool.registry), candidates: flags.candidates[0], firstStage: stage }));
        answers.set(stage, [...(answers.get(stage) ?? []), answer]);
        times.set(stage, [...(times.get(stage) ?? []), took]);
      }
    }
    const exhaustive = median(preparing) + median(perSource) * size;
    const first = answers.get(FIRST_STAGES[0])![0];
    lines.push(
      `\n### Timing: ${size} sources, D=${flags.dim}, N=${flags.n}, K=${flags.candidates[0]}, ${flags.targets} targets, scorer ${first.scorer}`,
      `ESM weights shared: ${flags.distinct} distinct files (each source has its own task, TextEmb vector and registry row); HNSW index of ${size} vectors built in ${fixed(pool.indexSeconds)} s.\n`,
      '| answer | median time | × exhaustive | stage 1 | stage 2 |',
      '|---|---:|---:|---:|---:|',
      `| exhaustive (reference): target preparation ${fixed(median(preparing))} s + ${fixed(median(perSource), 4)} s per source, measured on ${flags.sample} sources, × ${size} | ${fixed(exhaustive, 1)} s (extrapolated) | 1.00 | | |`,
    );
    for (const stage of FIRST_STAGES) {
      const runs = answers.get(stage)!;
      const took = median(times.get(stage)!);
      lines.push(
        `| two-stage, ${stage} | ${fixed(took)} s | ${fixed(took / exhaustive, 4)} | ${fixed(median(runs.map((r) => r.stages.first!.seconds)))} s | ${fixed(median(runs.map((r) => r.stages.second.seconds)))} s |`,
      );
    }
  } finally {
    pool.registry.close();
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

interface Flags {
  readonly dim: number;
  readonly sizes: number[];
  readonly targets: number;
  readonly candidates: number[];
  readonly n: number;
  readonly work: string;
  readonly timing: boolean;
  readonly distinct: number;
  readonly sample: number;
}

const USAGE = `npm run bench two-stage -- [--dim 64] [--sizes 1000,10000] [--targets 20] [--candidates 10,25,50,100] [--n 1000] [--work DIR]
npm run bench two-stage -- --timing [--dim 768] [--sizes 10000] [--targets 3] [--candidates 100] [--distinct 200] [--sample 20]`;

function integers(value: string | undefined, fallback: number[]): number[] {
  if (value === undefined) return fallback;
  const list = value.split(',').map(Number);
  if (!list.every((n) => Number.isSafeInteger(n) && n > 0)) throw new Error(`expected positive integers, got ${value}\n${USAGE}`);
  return list;
}

/**
 * `npm run bench two-stage`: the trade-off between exhaustive and two-stage ranking on synthetic
 * pools with a known structure (see SyntheticWorld). Pools are kept under --work (default the
 * system temp dir) and reused by later runs with the same parameters.
 */
export async function twoStageBenchmark(args: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      dim: { type: 'string' },
      sizes: { type: 'string' },
      targets: { type: 'string' },
      candidates: { type: 'string' },
      n: { type: 'string' },
      work: { type: 'string' },
      timing: { type: 'boolean', default: false },
      distinct: { type: 'string' },
      sample: { type: 'string' },
    },
  });
  const timed = values.timing!;
  const flags: Flags = {
    dim: integers(values.dim, [timed ? 768 : 64])[0],
    sizes: integers(values.sizes, timed ? [10_000] : [1000, 10_000]),
    targets: integers(values.targets, [timed ? 3 : 20])[0],
    candidates: integers(values.candidates, timed ? [DEFAULT_CANDIDATES] : [10, 25, 50, 100]),
    n: integers(values.n, [1000])[0],
    work: values.work ?? tmpdir(),
    timing: timed,
    distinct: integers(values.distinct, [200])[0],
    sample: integers(values.sample, [20])[0],
  };
  process.stdout.write(`two-stage benchmark (node ${process.version}; the machine is shared: figures are indicative)\n`);
  await (timed ? timing(flags) : recall(flags));
}
