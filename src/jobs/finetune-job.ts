import { fork } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { setPriority } from 'node:os';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../config.js';
import { UserInputError } from '../errors.js';
import { type FinetuneEvent, type FinetuneResult, type JobStep, readJobRecord } from '../finetune/job.js';
import type { StageSettings } from '../finetune/settings.js';
import type { EpochResult, StageName, StageReport } from '../finetune/trainer.js';
import type { Registry } from '../store/database.js';
import { registrySource } from '../store/esms.js';
import type { JobProgress } from '../store/jobs.js';
import type { FinetuneMessage, FinetuneWork } from './finetune-process.js';
import { type FinetuneRequest, requestView } from './finetune-request.js';
import type { JobRun, JobType } from './runner.js';

/** Where fine-tunes keep job.json, the checkpoints and the ESM, relative to the data dir: `finetunes/<job id>/`. */
export const FINETUNES_DIR = 'finetunes';

/**
 * Fine-tunes train at this niceness (the server's is 0): when a ranking and a fine-tune both want
 * the cores, the kernel gives the ranking the larger share, and an idle machine is the fine-tune's.
 */
export const FINETUNE_NICENESS = 10;

const here = fileURLToPath(import.meta.url);
/** The process's entry beside this module: compiled JavaScript, or TypeScript run from source through tsx (development, tests). */
const PROCESS_ENTRY = join(dirname(here), `finetune-process${extname(here)}`);
const PROCESS_EXEC_ARGV = extname(here) === '.ts' ? ['--import', 'tsx'] : [];

/** The last lines a fine-tune process wrote to stderr, for the log when it dies without a word. */
const STDERR_LINES = 20;

/** Held-out metrics by name; null where undefined. */
type MetricsView = Record<string, number | null>;

/** An epoch as a job's view shows it (the API's FinetuneEpoch). */
export type EpochView = {
  readonly stage: StageName;
  readonly epoch: number;
  readonly epochs: number;
  readonly train_loss: number;
  readonly metrics: MetricsView;
  readonly seconds: number;
};

/** A stage's report as a job's view shows it (the API's FinetuneStageReport). */
export type StageView = {
  readonly task: string;
  readonly mask: string;
  readonly settings: StageSettings;
  readonly train_examples: number;
  readonly evaluation_examples: number;
  readonly initial_metrics: MetricsView;
  readonly epochs: EpochView[];
  readonly best_epoch: number;
  readonly metrics: MetricsView;
  readonly stopped_early: boolean;
  readonly steps: number;
  readonly seconds: number;
};

/** A fine-tune's result as its view shows it (the API's FinetuneResult). */
export type FinetuneResultView = {
  readonly intermediate: StageView;
  readonly target: StageView;
  readonly esm: { readonly source_id: number; readonly source: string; readonly task_id: string; readonly pairs: number; readonly held_out_r2: number | null };
  readonly checkpoints: { readonly intermediate: string; readonly target: string; readonly esm: string };
  readonly restored: JobStep[];
  readonly backend: string;
};

function epochView(stage: StageName, epochs: number, epoch: EpochResult): EpochView {
  return { stage, epoch: epoch.epoch, epochs, train_loss: epoch.trainLoss, metrics: { ...epoch.metrics }, seconds: epoch.seconds };
}

function stageView(report: StageReport): StageView {
  return {
    task: report.task,
    mask: report.mask,
    settings: report.settings,
    train_examples: report.trainExamples,
    evaluation_examples: report.evaluationExamples,
    initial_metrics: { ...report.initialMetrics },
    epochs: report.epochs.map((epoch) => epochView(report.stage, report.settings.epochs, epoch)),
    best_epoch: report.bestEpoch,
    metrics: { ...report.metrics },
    stopped_early: report.stoppedEarly,
    steps: report.steps,
    seconds: report.seconds,
  };
}

/** The runner's result as the API shows it: folders relative to the data dir, the ESM by its registry id. */
function resultView(result: FinetuneResult, esmSourceId: number, dataDir: string): FinetuneResultView {
  const folder = (path: string) => relative(dataDir, path).split(sep).join('/');
  return {
    intermediate: stageView(result.intermediate),
    target: stageView(result.target),
    esm: {
      source_id: esmSourceId,
      source: registrySource(esmSourceId),
      task_id: result.esm.taskId,
      pairs: result.esm.pairs,
      held_out_r2: result.esm.heldOutR2,
    },
    checkpoints: { intermediate: folder(result.checkpoints.intermediate), target: folder(result.checkpoints.target), esm: folder(result.esm.folder) },
    restored: [...result.restored],
    backend: result.backend,
  };
}

/**
 * A fine-tune's progress over the whole job. Each step's share of the job is its stage's share of
 * the work, counted in example passes: a training stage makes epochs × examples of them, each a
 * forward and a backward pass (about three forward passes' work); the ESM embeds the source twice
 * (base and tuned encoder, forward only), two thirds of a training epoch on the source. The ETA
 * extrapolates this run's pace (a resumed run starts from the restored steps' share).
 */
class ProgressTracker {
  private readonly spans: Record<JobStep, [number, number]>;
  private readonly started = performance.now();
  private base: number | undefined;
  private current: JobProgress = { fraction: 0, stage: 'preparing', eta_seconds: null };

  constructor(request: FinetuneRequest) {
    const { source: chosen } = request;
    const source = 'upload' in chosen ? chosen.upload.rows : 'hub' in chosen ? chosen.hub.rows : chosen.registered.rows;
    const work = { intermediate: source * request.intermediate.epochs, esm: (source * 2) / 3, target: request.target.rows * request.target_stage.epochs };
    const total = work.intermediate + work.esm + work.target;
    const esmStart = work.intermediate / total;
    const targetStart = esmStart + work.esm / total;
    this.spans = { intermediate: [0, esmStart], esm: [esmStart, targetStart], target: [targetStart, 1] };
  }

  private at(stage: JobStep, within: number, details: Record<string, number> = {}): JobProgress {
    const [from, to] = this.spans[stage];
    const fraction = from + (to - from) * within;
    const elapsed = (performance.now() - this.started) / 1000;
    const done = fraction - (this.base ?? fraction);
    const eta_seconds = done >= 0.02 && elapsed >= 0.5 ? Math.round((elapsed * (1 - fraction)) / done) : null;
    this.current = { fraction, stage, eta_seconds, ...details };
    return this.current;
  }

  /** The progress after an event of the run (the last one for events that do not move it). */
  update(event: FinetuneEvent): JobProgress {
    if (event.type === 'stage') {
      if (event.status === 'started') {
        this.base ??= this.spans[event.stage][0];
        return this.at(event.stage, 0);
      }
      return this.at(event.stage, 1);
    }
    if (event.type === 'step') {
      const { stage, epoch, epochs, step, totalSteps, loss } = event;
      return this.at(stage, step / totalSteps, { epoch, epochs, step, total_steps: totalSteps, loss });
    }
    return this.current;
  }
}

/** The epochs of the stages a job folder's job.json records as completed (a resumed job's earlier work). */
async function completedEpochs(outputDir: string): Promise<EpochView[]> {
  const record = await readJobRecord(outputDir);
  return [record?.completed.intermediate, record?.completed.target].flatMap((report) => (report ? stageView(report).epochs : []));
}

export interface FinetuneJobOptions {
  readonly registry: Registry;
  readonly modelsDir: string;
  readonly log: (line: string) => void;
}

/**
 * Fine-tune jobs: each runs `runFinetune` in a process of its own (src/jobs/finetune-process.ts)
 * at a lower CPU priority, reports its progress, epochs, stages and ESM as they come, and ends with
 * the process. A cancel or a shutdown kills the process: a cancelled job's folder goes, a
 * shut-down one is resumed from its job.json by the next start.
 */
export function finetuneJobType(options: FinetuneJobOptions): JobType {
  const { registry } = options;
  const outputDir = (id: string) => registry.resolve(join(FINETUNES_DIR, id));
  /** The epochs so far of the jobs running now. */
  const liveEpochs = new Map<string, EpochView[]>();

  async function run({ job, inputDir, signal, progress, event }: JobRun): Promise<{ result: Record<string, unknown> }> {
    const request = job.request as unknown as FinetuneRequest;
    const work: FinetuneWork = { dataDir: registry.dataDir, modelsDir: options.modelsDir, inputDir, outputDir: outputDir(job.id), request };
    let epochs = await completedEpochs(work.outputDir);
    signal.throwIfAborted();
    liveEpochs.set(job.id, epochs);
    const tracker = new ProgressTracker(request);
    // From the package root, where tsx resolves; everything the process reads comes as absolute paths.
    const child = fork(PROCESS_ENTRY, [], { cwd: PACKAGE_ROOT, execArgv: PROCESS_EXEC_ARGV, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    try {
      try {
        setPriority(child.pid!, FINETUNE_NICENESS);
      } catch (error) {
        options.log(`fine-tune ${job.id}: its priority could not be lowered (${(error as Error).message}); it trains at the server's`);
      }
      const stderr: string[] = [];
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (chunk: string) => {
        stderr.push(...chunk.split('\n').filter(Boolean));
        stderr.splice(0, stderr.length - STDERR_LINES);
      });
      let end: FinetuneMessage | undefined;
      child.on('message', (message: FinetuneMessage) => {
        if (message.type === 'event') {
          const { event: update } = message;
          if (update.type === 'stage') {
            // A stage that starts (again, in a resumed job) starts its epochs afresh.
            if (update.status === 'started') liveEpochs.set(job.id, (epochs = epochs.filter((e) => e.stage !== update.stage)));
            event('stage', { stage: update.stage, status: update.status });
          } else if (update.type === 'epoch') {
            const view = epochView(update.stage, update.epochs, update);
            epochs.push(view);
            event('epoch', view);
          }
          progress(tracker.update(update));
        } else if (message.type === 'esm') event('esm', { source_id: message.sourceId, source: registrySource(message.sourceId) });
        else end = message;
      });
      const stop = () => child.kill('SIGKILL');
      signal.addEventListener('abort', stop, { once: true });
      const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
        child.once('error', reject);
        child.once('close', (code, killedBy) => resolve({ code, signal: killedBy }));
      });
      child.send(work);
      const exit = await closed.finally(() => signal.removeEventListener('abort', stop));
      signal.throwIfAborted();
      if (end?.type === 'done') return { result: resultView(end.result, end.esmSourceId, registry.dataDir) };
      if (end?.type === 'failed') {
        if (end.userInput) throw new UserInputError(end.message, end.field);
        throw new Error(`the fine-tune process failed: ${end.message}`);
      }
      throw new Error(`the fine-tune process ended without a result (${exit.signal ?? `exit code ${exit.code}`}); its last output:\n${stderr.join('\n')}`);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      liveEpochs.delete(job.id);
    }
  }

  return {
    kind: 'finetune',
    noun: 'fine-tune',
    firstStage: 'preparing',
    run,
    details(job) {
      const request = job.request as unknown as FinetuneRequest;
      const result = job.result as FinetuneResultView | null;
      const epochs = result ? [...result.intermediate.epochs, ...result.target.epochs] : (liveEpochs.get(job.id) ?? []);
      return { request: requestView(request), epochs, ...(result && { result }) };
    },
    async ended(job) {
      // A cancelled job is dropped with its checkpoints; the ESM it registered stays in the pool.
      if (job.state === 'cancelled') await rm(outputDir(job.id), { recursive: true, force: true });
    },
  };
}
