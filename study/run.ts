import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createProgress } from '../src/cli/progress.js';
import { modelsDir as defaultModelsDir } from '../src/config.js';
import { DEFAULT_MAX_LENGTH } from '../src/embed/embedder.js';
import { describeModel, modelFolder } from '../src/embed/model-folder.js';
import { readModelFolder } from '../src/finetune/checkpoint.js';
import { loadTokenizer } from '../src/finetune/tokenize.js';
import { writeFileAtomic } from '../src/io/atomic.js';
import { selectScorer } from '../src/rank/scorers.js';
import { openRegistry } from '../src/store/database.js';
import { loadTensorflow } from '../src/tf/backend.js';
import { allMethodMetrics, noiseSummary, targetTruths } from './analysis.js';
import type { StudyConfig } from './config.js';
import type { StudyContext } from './context.js';
import { studyFamily } from './family.js';
import { groundTruthSize, runGroundTruth } from './ground-truth.js';
import { METHODS, SelectionMethods, type TargetScores } from './methods.js';
import { mean } from './metrics.js';
import { metricsCsv, pairsCsv, runTables, type StudyResults, scorePlot, scoresCsv, shortId, sourceTable, summariseTasks, tasksMarkdown } from './report.js';
import { runSources } from './sources.js';

export interface StudyRunOptions {
  readonly config: StudyConfig;
  readonly smoke: boolean;
  /** Where the artefacts go (created). */
  readonly out: string;
  /** Child processes the ground truth's fine-tunes are shared out to (1: in this process). */
  readonly processes?: number;
  /** Keep the temporary data dir (registry, jobs, checkpoints) instead of removing it. */
  readonly keepWork?: boolean;
  readonly modelsDir?: string;
  /** Each log line as it is written (default: stderr). */
  readonly onLog?: (line: string) => void;
}

const since = (started: number) => (performance.now() - started) / 1000;
const cpuSeconds = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1e6;
const minutesOf = (seconds: number) => `${(seconds / 60).toFixed(1)} min`;

/**
 * Runs the study end to end (see the README section it writes): the task family, the runner on every
 * source, every selection method on every target, the ground-truth fine-tunes, then the tables, the
 * plot and the log under `out`. The registry and the jobs live in a temporary data dir
 * (ESMSELECT_DATA_DIR points there while the study runs), so a user's registry is never touched.
 */
export async function runStudy(options: StudyRunOptions): Promise<StudyResults> {
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const loadStarted = loadavg()[0];
  const { config } = options;
  const logLines: string[] = [];
  const log = (line: string) => {
    logLines.push(line);
    (options.onLog ?? ((l: string) => process.stderr.write(`${l}\n`)))(line);
  };
  const out = resolve(options.out);
  await mkdir(out, { recursive: true });
  const workDir = await mkdtemp(join(tmpdir(), 'esmselect-study-'));
  const previousDataDir = process.env.ESMSELECT_DATA_DIR;
  process.env.ESMSELECT_DATA_DIR = workDir;
  const registry = openRegistry({ dataDir: workDir });
  try {
    const tensorflow = await loadTensorflow();
    const scorer = await selectScorer();
    const modelsDir = options.modelsDir ?? defaultModelsDir();
    const folder = modelFolder(config.model, modelsDir);
    const family = await studyFamily(config);
    const processes = options.processes ?? 1;
    const context: StudyContext = {
      config,
      family,
      registry,
      workDir,
      modelsDir,
      base: await readModelFolder(folder),
      pooling: (await describeModel(config.model, folder, DEFAULT_MAX_LENGTH)).pooling,
      tokenizer: await loadTokenizer(folder),
      log,
    };
    log(
      `study${options.smoke ? ' (smoke)' : ''}: ${config.model} on ${config.tasks} tasks, seed ${config.family.seed}, ${family.sources.length} sources, ${family.targets.length} targets, ${config.repeats} repeat(s), ground truth in ${processes} process(es); ${tensorflow.description}; ${scorer.description}; data dir ${workDir}`,
    );

    const sourcesStarted = performance.now();
    const sourceProgress = createProgress('study: sources', 'jobs');
    const sources = await runSources(context, (done) => sourceProgress.update(done, family.sources.length));
    sourceProgress.stop();
    const sourceSeconds = since(sourcesStarted);

    const methodsStarted = performance.now();
    const methods = await SelectionMethods.create(context, sources, scorer.scorer);
    const scores: TargetScores[] = [];
    for (const target of family.targets) {
      const entry = await methods.scoreTarget(target);
      scores.push(entry);
      log(
        `${target.id}: scored by ${METHODS.length} methods (ESM-LogME ${entry.seconds['esm-logme'].toFixed(2)} s, upper reference ${entry.seconds['finetuned-logme'].toFixed(2)} s)`,
      );
    }
    const methodSeconds = since(methodsStarted);

    const truthStarted = performance.now();
    const total = groundTruthSize(context);
    const truthProgress = createProgress('study: ground truth', 'fine-tunes');
    let done = 0;
    const { runs: pairs, processCpuSeconds } = await runGroundTruth(
      context,
      sources,
      (run) => {
        done++;
        truthProgress.update(done, total, `${shortId(run.source ?? 'target only')} → ${shortId(run.target)}`);
        log(
          `${run.source ?? '(target only)'} → ${run.target} [${run.mask}, seed ${run.seed}]: test accuracy ${run.testAccuracy.toFixed(4)} (best epoch ${run.bestEpoch}, ${run.seconds.toFixed(1)} s)`,
        );
      },
      processes,
    );
    truthProgress.stop();
    const truthSeconds = since(truthStarted);

    const sourceIds = sources.map((s) => s.task.id);
    const truths = targetTruths(
      pairs,
      sourceIds,
      family.targets.map((t) => t.id),
    );
    const reproduced = sources.map((s) => {
      const pair = pairs.find((p) => p.source === s.task.id && p.target === s.jobTarget.target && p.mask === 'none' && p.repeat === 0)!;
      return Math.abs(pair.testAccuracy - s.jobTarget.accuracy);
    });
    const poolCosts = methods.poolCosts();
    // The CPU time of this process and of the ground truth's child processes (all ended by now).
    const cpu = cpuSeconds(process.cpuUsage(cpuStarted)) + processCpuSeconds;
    const results: StudyResults = {
      version: 2,
      smoke: options.smoke,
      config,
      environment: {
        node: process.versions.node,
        cpus: availableParallelism(),
        processes,
        tensorflow: tensorflow.description,
        scorer: scorer.description,
        loadAverage: [loadStarted, loadavg()[0]],
      },
      tasks: summariseTasks(family),
      sources: sources.map((s) => ({
        id: s.task.id,
        esmId: s.esmId,
        esmBytes: s.esmBytes,
        esmHeldOutR2: s.esmHeldOutR2,
        modelBytes: s.modelBytes,
        sourceAccuracy: s.sourceAccuracy,
        seconds: s.seconds,
      })),
      pairs,
      truths,
      scores,
      metrics: allMethodMetrics(scores, truths),
      costs: METHODS.map((method) => ({ method, ...poolCosts[method], perTargetSeconds: mean(scores.map((s) => s.seconds[method])) })),
      noise: { none: noiseSummary(pairs, truths, 'none', config.repeats), gmt: noiseSummary(pairs, truths, 'gmt', config.repeats) },
      reproduction: { pairs: reproduced.length, maxDifference: Math.max(...reproduced) },
      seconds: { sources: sourceSeconds, methods: methodSeconds, groundTruth: truthSeconds, total: since(started), cpu },
    };
    // The measurements first: a table that failed to render can be written again from them (--render).
    await writeFileAtomic(join(out, 'results.json'), resultsJson(results));
    await writeReport(results, out);
    log(
      `study: done in ${minutesOf(results.seconds.total)} wall time, ${minutesOf(cpu)} of CPU time (load average ${results.environment.loadAverage.map((l) => l.toFixed(1)).join(' at the start, ')} at the end); artefacts in ${out}`,
    );
    return results;
  } finally {
    registry.close();
    if (previousDataDir === undefined) delete process.env.ESMSELECT_DATA_DIR;
    else process.env.ESMSELECT_DATA_DIR = previousDataDir;
    await writeFileAtomic(join(out, 'study.log'), `${logLines.join('\n')}\n`);
    if (!options.keepWork) await rm(workDir, { recursive: true, force: true });
  }
}

export const resultsJson = (results: StudyResults) => `${JSON.stringify(results, null, 1)}\n`;

/**
 * Writes a run's tables and plot under `out` from its results (`npm run study -- --render` redoes
 * it from the results.json beside them); results.json itself is written by the run.
 */
export async function writeReport(results: StudyResults, out: string): Promise<void> {
  await mkdir(out, { recursive: true });
  const files: Record<string, string> = {
    'table.md': runTables(results),
    'tasks.md': tasksMarkdown(results),
    'sources.md': `# Source jobs (runFinetune)\n\n${sourceTable(results)}\n`,
    'pairs.csv': pairsCsv(results),
    'scores.csv': scoresCsv(results),
    'metrics.csv': metricsCsv(results),
    'plot.svg': scorePlot(results),
  };
  for (const [name, content] of Object.entries(files)) await writeFileAtomic(join(out, name), content);
}
