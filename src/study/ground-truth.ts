import { readModelFolder, type ModelFolder } from '../finetune/checkpoint.js';
import { prepareTask } from '../finetune/data.js';
import type { ClassificationMetrics } from '../finetune/metrics.js';
import { resolveStageSettings } from '../finetune/settings.js';
import { trainClassifier } from '../finetune/trainer.js';
import { repeatSeed } from './config.js';
import { prepareTestSplit, testAccuracy, textTask, type StudyContext } from './context.js';
import type { SourceRun } from './sources.js';

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

/** Target-stage fine-tunes a full ground truth takes: every (start, target, mask, repeat), the base model being one start. */
export function groundTruthSize(context: StudyContext): number {
  const { family, config } = context;
  return (family.sources.length + 1) * family.targets.length * MASKS.length * config.repeats;
}

/**
 * The ground truth: every target fine-tuned from every source's intermediate checkpoint, and from
 * the base model (no transfer), vanilla and with GMT, `repeats` times with different seeds; test
 * accuracy of the best epoch by validation accuracy. The target stage is the runner's
 * (`trainClassifier`: the encoder of the start, a fresh head, `trainStage`).
 */
export async function runGroundTruth(context: StudyContext, sources: readonly SourceRun[], onDone: (run: PairRun) => void): Promise<PairRun[]> {
  const { config, family, tokenizer, pooling } = context;
  const starts: { source: string | null; folder: () => Promise<ModelFolder> }[] = [
    { source: null, folder: async () => context.base },
    ...sources.map((s) => ({ source: s.task.id, folder: () => readModelFolder(s.checkpoint) })),
  ];
  const runs: PairRun[] = [];
  for (const target of family.targets) {
    const test = prepareTestSplit(target, tokenizer);
    // The target's own validation split is given, so the split does not depend on the stage's seed.
    const data = prepareTask(textTask(target), tokenizer, { heldOutFraction: 0.1, seed: 0, field: 'target' });
    for (const start of starts) {
      const folder = await start.folder();
      for (const mask of MASKS) {
        for (let repeat = 0; repeat < config.repeats; repeat++) {
          const seed = repeatSeed(config, repeat);
          const settings = resolveStageSettings({ ...config.targetStage, mask, seed }, 'target');
          const { model, report } = await trainClassifier(folder, data, settings, { stage: 'target', pooling });
          try {
            const run: PairRun = {
              source: start.source,
              target: target.id,
              mask,
              repeat,
              seed,
              testAccuracy: testAccuracy(model, test),
              validationAccuracy: (report.metrics as ClassificationMetrics).accuracy,
              bestEpoch: report.bestEpoch,
              seconds: report.seconds,
            };
            runs.push(run);
            onDone(run);
          } finally {
            model.dispose();
          }
        }
      }
    }
  }
  return runs;
}
