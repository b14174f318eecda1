import { createHash } from 'node:crypto';
import { UserInputError } from '../errors.js';
import { seededUniform, shuffleInPlace } from '../random.js';
import { type ClassLabel, encodeClassLabels, encodeRegressionTargets, type TaskType } from '../task/labels.js';
import type { TextTokenizer, TokenizedTexts } from './tokenize.js';

/** Labelled texts; pairs of texts come joined with " [SEP] ", as hfselect joins text columns. */
export interface LabelledTexts {
  readonly texts: readonly string[];
  /** Class labels (strings, numbers, booleans), or regression targets (numbers, or arrays of K numbers). */
  readonly labels: readonly unknown[];
}

/**
 * A task to fine-tune on, in memory: the source (intermediate) task or the target task. The
 * metadata fields describe it in the ESM trained after the intermediate stage (hfselect's ESMConfig).
 */
export interface TextTask extends LabelledTexts {
  /** Names the task in progress reports and checkpoints, and is the ESM's `task_id`. */
  readonly id: string;
  readonly task: TaskType;
  /** A held-out split to evaluate on each epoch; without it a fraction of the examples is held out. */
  readonly evaluation?: LabelledTexts;
  readonly subset?: string | null;
  readonly split?: string | null;
  readonly textColumn?: string | readonly string[] | null;
  readonly labelColumn?: string | null;
}

/** Examples of one split, tokenised, with labels encoded for the loss. */
export interface PreparedSplit {
  readonly size: number;
  readonly sequences: TokenizedTexts;
  /** Class codes (classification). */
  readonly codes?: Int32Array;
  /** Row-major [size, numLabels] targets (regression). */
  readonly targets?: Float32Array;
}

export interface PreparedTask {
  readonly id: string;
  readonly task: TaskType;
  /** Outputs of the head: the number of classes, or of regression targets. */
  readonly numLabels: number;
  /** Classification: the label of each class code, in the order documented by `encodeClassLabels`. */
  readonly classes?: readonly ClassLabel[];
  readonly train: PreparedSplit;
  readonly evaluation: PreparedSplit;
}

/**
 * A fingerprint of a task's examples (texts, labels, evaluation split), so a resumed job can
 * refuse data that changed since it started.
 */
export function taskFingerprint(task: TextTask): string {
  const hash = createHash('sha256');
  const add = (value: unknown) => hash.update(`${JSON.stringify(value)}\n`);
  add([task.id, task.task, task.texts.length, task.evaluation?.texts.length ?? null]);
  for (const split of [task, task.evaluation]) {
    if (!split) continue;
    split.texts.forEach((text, i) => add([text, split.labels[i]]));
  }
  return hash.digest('hex');
}

function checkShape(split: LabelledTexts, field: string): void {
  if (split.texts.length === 0) throw new UserInputError(`${field}: no examples`, field);
  if (split.labels.length !== split.texts.length) throw new UserInputError(`${field}: ${split.texts.length} texts but ${split.labels.length} labels`, field);
  split.texts.forEach((text, row) => {
    if (typeof text !== 'string' || text.trim() === '') throw new UserInputError(`${field}: row ${row} has an empty text`, field);
  });
}

/** The rows of `split` at `indices`. */
function pick(split: LabelledTexts, indices: ArrayLike<number>): LabelledTexts {
  return { texts: Array.from(indices, (i) => split.texts[i]), labels: Array.from(indices, (i) => split.labels[i]) };
}

/**
 * Tokenises a task and encodes its labels. The held-out split is the task's own, or
 * `heldOutFraction` of the examples (at least one) drawn with `seed`. Class codes come from the
 * training split; an evaluation label outside its classes is an error, since the head cannot predict it.
 * `field` names the task in error messages (`source`, `target`).
 */
export function prepareTask(task: TextTask, tokenizer: TextTokenizer, options: { heldOutFraction: number; seed: number; field: string }): PreparedTask {
  const { field } = options;
  checkShape(task, field);
  let train: LabelledTexts = task;
  let evaluation = task.evaluation;
  if (evaluation) checkShape(evaluation, `${field} evaluation`);
  else {
    const n = task.texts.length;
    const heldOut = Math.max(1, Math.round(n * options.heldOutFraction));
    if (n - heldOut < 1) throw new UserInputError(`${field}: ${n} examples leave none to train on after holding out ${heldOut} for evaluation`, field);
    const order = shuffleInPlace(
      Int32Array.from({ length: n }, (_, i) => i),
      seededUniform(options.seed),
    );
    evaluation = pick(task, order.subarray(0, heldOut));
    train = pick(task, order.subarray(heldOut));
  }
  const relabel = (error: unknown, which: string): never => {
    if (error instanceof UserInputError) throw new UserInputError(error.message.replace(/^labels:/, `${which}:`), field);
    throw error;
  };
  const tokenized = (split: LabelledTexts) => ({ size: split.texts.length, sequences: tokenizer.tokenize(split.texts) });
  if (task.task === 'classification') {
    let encoded: ReturnType<typeof encodeClassLabels>;
    try {
      encoded = encodeClassLabels(train.labels);
    } catch (error) {
      relabel(error, `${field} labels`);
    }
    const { classes, codes } = encoded!;
    const index = new Map<unknown, number>(classes.map((c, i) => [c, i]));
    const evaluationCodes = Int32Array.from(evaluation.labels, (label, row) => {
      const code = index.get(label);
      if (code === undefined)
        throw new UserInputError(`${field} evaluation: row ${row} has label ${JSON.stringify(label)}, which the training examples never have`, field);
      return code;
    });
    return {
      id: task.id,
      task: 'classification',
      numLabels: classes.length,
      classes,
      train: { ...tokenized(train), codes },
      evaluation: { ...tokenized(evaluation), codes: evaluationCodes },
    };
  }
  const encode = (labels: readonly unknown[], which: string) => {
    try {
      return encodeRegressionTargets(labels);
    } catch (error) {
      return relabel(error, which);
    }
  };
  const trainTargets = encode(train.labels, `${field} labels`);
  const evaluationTargets = encode(evaluation.labels, `${field} evaluation labels`);
  if (evaluationTargets.targets !== trainTargets.targets) {
    throw new UserInputError(
      `${field} evaluation: ${evaluationTargets.targets} regression targets per row, the training examples have ${trainTargets.targets}`,
      field,
    );
  }
  return {
    id: task.id,
    task: 'regression',
    numLabels: trainTargets.targets,
    train: { ...tokenized(train), targets: Float32Array.from(trainTargets.values) },
    evaluation: { ...tokenized(evaluation), targets: Float32Array.from(evaluationTargets.values) },
  };
}
