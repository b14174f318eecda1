import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createClassifier, readModelFolder, WEIGHTS_FILE } from '../src/finetune/checkpoint.js';
import { runFinetune } from '../src/finetune/job.js';
import type { ClassificationMetrics } from '../src/finetune/metrics.js';
import { registerEsm } from '../src/registry/esms.js';
import { repeatSeed, sourceSeed } from './config.js';
import { prepareTestSplit, type StudyContext, testAccuracy, textTask } from './context.js';
import type { StudyTask } from './tasks.js';

/** A source task after the runner's job: its fine-tuned model and its registered ESM. */
export interface SourceRun {
  readonly task: StudyTask;
  /** The intermediate checkpoint (…ForSequenceClassification folder). */
  readonly checkpoint: string;
  readonly modelBytes: number;
  readonly esmId: number;
  readonly esmBytes: number;
  readonly esmHeldOutR2: number | null;
  /** Held-out accuracy of the intermediate stage on the source task. */
  readonly sourceAccuracy: number;
  /** The intermediate stage; the ESM step (embedding the source texts with both models, fitting, registering); the job's target stage. */
  readonly seconds: { readonly intermediate: number; readonly esm: number; readonly target: number };
  /**
   * Test accuracy of the job's own target stage (on the first target, vanilla, first repeat's seed):
   * the ground truth recomputes this pair from the intermediate checkpoint, and the two must agree.
   */
  readonly jobTarget: { readonly target: string; readonly accuracy: number };
}

/**
 * Runs the fine-tuning runner (`runFinetune`) on every source: the intermediate stage, the ESM of
 * the fine-tune registered into the study's registry, and the job's target stage on the first target.
 */
export async function runSources(context: StudyContext, onDone: (done: number) => void): Promise<SourceRun[]> {
  const { config, family, registry, tokenizer, pooling, log } = context;
  const firstTarget = family.targets[0];
  const test = prepareTestSplit(firstTarget, tokenizer);
  const runs: SourceRun[] = [];
  for (const [index, task] of family.sources.entries()) {
    const seed = sourceSeed(config, index);
    let registered: { id: number; bytes: number } | undefined;
    let esmStarted = 0;
    let esmSeconds = 0;
    const result = await runFinetune(
      {
        model: config.model,
        modelsDir: context.modelsDir,
        source: textTask(task),
        target: textTask(firstTarget),
        intermediate: { ...config.intermediate, seed },
        targetStage: { ...config.targetStage, seed: repeatSeed(config, 0) },
        esm: { seed },
        outputDir: join(context.workDir, 'jobs', task.id.replace('/', '-')),
      },
      {
        onEvent: (event) => {
          if (event.type !== 'stage' || event.stage !== 'esm') return;
          if (event.status === 'started') esmStarted = performance.now();
          if (event.status === 'completed') esmSeconds = (performance.now() - esmStarted) / 1000;
        },
        registerEsm: async (esm, training) => {
          const outcome = await registerEsm(registry, esm, { origin: 'finetuned', training });
          registered = { id: outcome.record.id, bytes: outcome.record.weights_bytes };
        },
      },
    );
    if (!registered) throw new Error(`the runner registered no ESM for ${task.id}`);
    const tuned = createClassifier(await readModelFolder(result.checkpoints.target), { pooling, numLabels: test.numLabels, seed: 0, keepHead: true });
    let jobAccuracy: number;
    try {
      jobAccuracy = testAccuracy(tuned, test);
    } finally {
      tuned.dispose();
    }
    const run: SourceRun = {
      task,
      checkpoint: result.checkpoints.intermediate,
      modelBytes: (await stat(join(result.checkpoints.intermediate, WEIGHTS_FILE))).size,
      esmId: registered.id,
      esmBytes: registered.bytes,
      esmHeldOutR2: result.esm.heldOutR2,
      sourceAccuracy: (result.intermediate.metrics as ClassificationMetrics).accuracy,
      seconds: { intermediate: result.intermediate.seconds, esm: esmSeconds, target: result.target.seconds },
      jobTarget: { target: firstTarget.id, accuracy: jobAccuracy },
    };
    runs.push(run);
    const r2 = run.esmHeldOutR2 === null ? 'n/a' : run.esmHeldOutR2.toFixed(3);
    log(
      `${task.id}: source held-out accuracy ${run.sourceAccuracy.toFixed(3)} (${run.seconds.intermediate.toFixed(1)} s), ESM #${run.esmId} held-out R² ${r2} (${run.seconds.esm.toFixed(1)} s)`,
    );
    onDone(runs.length);
  }
  return runs;
}
