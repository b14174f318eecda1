import { fork } from 'node:child_process';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../src/config.js';
import { DEFAULT_MAX_LENGTH } from '../src/embed/embedder.js';
import { describeModel, modelFolder } from '../src/embed/model-folder.js';
import type { Pooling } from '../src/embed/pooling.js';
import { type ModelFolder, readModelFolder } from '../src/finetune/checkpoint.js';
import { type PreparedTask, prepareTask } from '../src/finetune/data.js';
import type { ClassificationMetrics } from '../src/finetune/metrics.js';
import { resolveStageSettings, type StageSettingsInput } from '../src/finetune/settings.js';
import { loadTokenizer, type TextTokenizer } from '../src/finetune/tokenize.js';
import { trainClassifier } from '../src/finetune/trainer.js';
import { repeatSeed } from './config.js';
import { prepareTestSplit, type StudyContext, testAccuracy, textTask } from './context.js';
import type { SourceRun } from './sources.js';
import type { StudyTask } from './tasks.js';

export const MASKS = ['none', 'gmt'] as const;
export type StudyMask = (typeof MASKS)[number];

/** One target-stage fine-tune: from a source's intermediate checkpoint, or from the base model (`source` null). */
export interface PairRun {
  readonly source: string | null;
  readonly target: string;
  readonly mask: StudyMask;
  readonly repeat: number;
  readonly seed: number;
  readonly testAccuracy: number;
  readonly validationAccuracy: number;
  readonly bestEpoch: number;
  readonly seconds: number;
}

/** A fine-tune to run: indices into PairWork's targets and starts. */
export interface PairJob {
  readonly target: number;
  readonly start: number;
  readonly mask: StudyMask;
  readonly repeat: number;
}

/** A target as plain data (it crosses to the worker processes over IPC). */
type PairTarget = Pick<StudyTask, 'id' | 'role' | 'domain' | 'classes' | 'train' | 'validation' | 'test'>;

/** Everything the ground truth's fine-tunes need, as plain data, so that a child process can run them too. */
export interface PairWork {
  readonly model: string;
  readonly modelsDir: string;
  readonly targetStage: StageSettingsInput;
  /** The seed of each repeat. */
  readonly seeds: readonly number[];
  readonly targets: readonly PairTarget[];
  /** The starting points: the base model (`checkpoint` null), then each source's intermediate checkpoint. */
  readonly starts: readonly { readonly source: string | null; readonly checkpoint: string | null }[];
}

/** Target-stage fine-tunes a full ground truth takes: every (start, target, mask, repeat), the base model being one start. */
export function groundTruthSize(context: StudyContext): number {
  const { family, config } = context;
  return (family.sources.length + 1) * family.targets.length * MASKS.length * config.repeats;
}

/** Every fine-tune of the ground truth, in the order results are reported: by target, start, masking, repeat. */
export function pairJobs(work: PairWork): PairJob[] {
  return work.targets.flatMap((_, target) =>
    work.starts.flatMap((_, start) => MASKS.flatMap((mask) => work.seeds.map((_, repeat) => ({ target, start, mask, repeat })))),
  );
}

/**
 * Runs pair jobs in one process. A fine-tune depends only on its job and the work (the start's
 * weights, the target's data, the seed), never on what ran before it in the process, so any
 * number of runners give the same results.
 */
export class PairRunner {
  private readonly prepared = new Map<number, { data: PreparedTask; test: PreparedTask }>();
  private folder: { start: number; folder: ModelFolder } | undefined;

  private constructor(
    private readonly work: PairWork,
    private readonly base: ModelFolder,
    private readonly tokenizer: TextTokenizer,
    private readonly pooling: Pooling,
  ) {}

  static async load(work: PairWork): Promise<PairRunner> {
    const folder = modelFolder(work.model, work.modelsDir);
    const pooling = (await describeModel(work.model, folder, DEFAULT_MAX_LENGTH)).pooling;
    return new PairRunner(work, await readModelFolder(folder), await loadTokenizer(folder), pooling);
  }

  private target(index: number): { data: PreparedTask; test: PreparedTask } {
    let entry = this.prepared.get(index);
    if (!entry) {
      const target = this.work.targets[index] as StudyTask;
      // The target's own validation split is given, so the split does not depend on the stage's seed.
      entry = {
        data: prepareTask(textTask(target), this.tokenizer, { heldOutFraction: 0.1, seed: 0, field: 'target' }),
        test: prepareTestSplit(target, this.tokenizer),
      };
      this.prepared.set(index, entry);
    }
    return entry;
  }

  /** The start's weights; the last one read is kept, as jobs come start by start. */
  private async start(index: number): Promise<ModelFolder> {
    const { checkpoint } = this.work.starts[index];
    if (checkpoint === null) return this.base;
    if (this.folder?.start !== index) this.folder = { start: index, folder: await readModelFolder(checkpoint) };
    return this.folder.folder;
  }

  /** The runner's target stage (`trainClassifier`: the encoder of the start, a fresh head, `trainStage`), tested on the target's test split. */
  async run(job: PairJob): Promise<PairRun> {
    const { data, test } = this.target(job.target);
    const seed = this.work.seeds[job.repeat];
    const settings = resolveStageSettings({ ...this.work.targetStage, mask: job.mask, seed }, 'target');
    const { model, report } = await trainClassifier(await this.start(job.start), data, settings, { stage: 'target', pooling: this.pooling });
    try {
      return {
        source: this.work.starts[job.start].source,
        target: this.work.targets[job.target].id,
        mask: job.mask,
        repeat: job.repeat,
        seed,
        testAccuracy: testAccuracy(model, test),
        validationAccuracy: (report.metrics as ClassificationMetrics).accuracy,
        bestEpoch: report.bestEpoch,
        seconds: report.seconds,
      };
    } finally {
      model.dispose();
    }
  }
}

/** What the parent tells a worker process, and what it answers (study/ground-truth-process.ts). */
export type PairRequest = { readonly type: 'work'; readonly work: PairWork } | { readonly type: 'job'; readonly index: number; readonly job: PairJob };
export type PairAnswer =
  | { readonly type: 'ready' }
  /** `cpuSeconds`: the process's CPU time so far (user + system), so the parent can count it. */
  | { readonly type: 'done'; readonly index: number; readonly run: PairRun; readonly cpuSeconds: number }
  | { readonly type: 'failed'; readonly message: string };

/** The fine-tunes' results in the jobs' order, and the CPU seconds the child processes spent on them (0 in-process). */
export interface GroundTruth {
  readonly runs: PairRun[];
  readonly processCpuSeconds: number;
}

const here = fileURLToPath(import.meta.url);
const PROCESS_ENTRY = join(dirname(here), `ground-truth-process${extname(here)}`);
const PROCESS_EXEC_ARGV = extname(here) === '.ts' ? ['--import', 'tsx'] : [];

/**
 * Runs the jobs in `processes` child processes, each fed the next job when it answers; the runs
 * come back in the jobs' order whatever order they finish in.
 */
async function runInProcesses(work: PairWork, jobs: readonly PairJob[], processes: number, onDone: (run: PairRun) => void): Promise<GroundTruth> {
  const runs: PairRun[] = new Array(jobs.length);
  const cpu: number[] = [];
  let next = 0;
  const children = Array.from({ length: Math.min(processes, jobs.length) }, () =>
    fork(PROCESS_ENTRY, [], { cwd: PACKAGE_ROOT, execArgv: PROCESS_EXEC_ARGV, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  try {
    await Promise.all(
      children.map(
        (child, c) =>
          new Promise<void>((resolve, reject) => {
            const feed = () => {
              if (next === jobs.length) {
                child.disconnect();
                return;
              }
              const index = next++;
              child.send({ type: 'job', index, job: jobs[index] } satisfies PairRequest);
            };
            child.on('message', (answer: PairAnswer) => {
              if (answer.type === 'failed') reject(new Error(`a ground-truth process failed: ${answer.message}`));
              else if (answer.type === 'ready') feed();
              else {
                runs[answer.index] = answer.run;
                cpu[c] = answer.cpuSeconds;
                onDone(answer.run);
                feed();
              }
            });
            child.once('error', reject);
            child.once('exit', (code, signal) =>
              code === 0 ? resolve() : reject(new Error(`a ground-truth process ended with ${signal ?? `exit code ${code}`}`)),
            );
            child.send({ type: 'work', work } satisfies PairRequest);
          }),
      ),
    );
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  const missing = runs.findIndex((run) => !run); // findIndex visits the holes of a sparse array; indexOf would skip them
  if (missing >= 0 || runs.length !== jobs.length) throw new Error(`the ground truth has no result for fine-tune ${missing}`);
  return { runs, processCpuSeconds: cpu.reduce((a, b) => a + (b ?? 0), 0) };
}

/** The work of a study's ground truth. */
export function pairWork(context: StudyContext, sources: readonly SourceRun[]): PairWork {
  const { config, family } = context;
  return {
    model: config.model,
    modelsDir: context.modelsDir,
    targetStage: config.targetStage,
    seeds: Array.from({ length: config.repeats }, (_, repeat) => repeatSeed(config, repeat)),
    targets: family.targets.map(
      ({ id, role, domain, classes, train, validation, test }): PairTarget => ({ id, role, domain, classes, train, validation, test }),
    ),
    starts: [{ source: null, checkpoint: null }, ...sources.map((s) => ({ source: s.task.id, checkpoint: s.checkpoint }))],
  };
}

/**
 * The ground truth: every target fine-tuned from every source's intermediate checkpoint, and from
 * the base model (no transfer), vanilla and with GMT, `repeats` times with different seeds; test
 * accuracy of the best epoch by validation accuracy. With `processes` > 1 the fine-tunes are
 * shared out to that many child processes (one core each); the results are the same.
 */
export async function runGroundTruth(
  context: StudyContext,
  sources: readonly SourceRun[],
  onDone: (run: PairRun) => void,
  processes = 1,
): Promise<GroundTruth> {
  const work = pairWork(context, sources);
  const jobs = pairJobs(work);
  if (processes > 1) return runInProcesses(work, jobs, processes, onDone);
  const runner = await PairRunner.load(work);
  const runs: PairRun[] = [];
  for (const job of jobs) {
    const run = await runner.run(job);
    runs.push(run);
    onDone(run);
  }
  return { runs, processCpuSeconds: 0 };
}
