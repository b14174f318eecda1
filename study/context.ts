import type { Pooling } from '../src/embed/pooling.js';
import type { ModelFolder } from '../src/finetune/checkpoint.js';
import { type PreparedTask, prepareTask, type TextTask } from '../src/finetune/data.js';
import type { SequenceClassifier } from '../src/finetune/encoder.js';
import type { ClassificationMetrics } from '../src/finetune/metrics.js';
import type { TextTokenizer } from '../src/finetune/tokenize.js';
import { evaluate } from '../src/finetune/trainer.js';
import type { Registry } from '../src/store/database.js';
import type { StudyConfig } from './config.js';
import type { StudyFamily, StudyTask } from './tasks.js';

/** What every phase of a study run shares. */
export interface StudyContext {
  readonly config: StudyConfig;
  /** The synthetic family (tasks.ts) or any other of StudyTasks, e.g. WordNet's (wordnet/tasks.ts). */
  readonly family: StudyFamily;
  /** The run's own registry, in a temporary data dir. */
  readonly registry: Registry;
  /** Where the fine-tuning jobs go (inside the temporary data dir). */
  readonly workDir: string;
  readonly modelsDir: string;
  readonly base: ModelFolder;
  readonly pooling: Pooling;
  readonly tokenizer: TextTokenizer;
  readonly log: (line: string) => void;
}

/** A study task as the fine-tuning runner takes it; a target's validation split picks the best epoch. */
export function textTask(task: StudyTask): TextTask {
  return {
    id: task.id,
    task: 'classification',
    texts: task.train.texts,
    labels: task.train.labels,
    evaluation: task.validation,
    split: 'train',
    textColumn: 'text',
    labelColumn: 'label',
  };
}

/**
 * A target prepared for measuring accuracy on its test split: the test split stands as the
 * evaluation split of the same task, so it is tokenised and coded with the classes of the training
 * examples, as the trained head orders them.
 */
export function prepareTestSplit(target: StudyTask, tokenizer: TextTokenizer): PreparedTask {
  if (!target.test) throw new Error(`${target.id} has no test split`);
  return prepareTask({ ...textTask(target), evaluation: target.test }, tokenizer, { heldOutFraction: 0.1, seed: 0, field: 'target' });
}

export function testAccuracy(model: SequenceClassifier, test: PreparedTask): number {
  return (evaluate(model, test, test.evaluation, 64) as ClassificationMetrics).accuracy;
}
