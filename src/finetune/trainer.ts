import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import * as tf from '@tensorflow/tfjs-core';
import type { Pooling } from '../embed/pooling.js';
import type { Embeddings } from '../io/embeddings.js';
import { seededUniform, shuffleInPlace } from '../random.js';
import { TrainingOptimizer } from '../tf/optimizer.js';
import { createClassifier, type ModelFolder } from './checkpoint.js';
import type { PreparedSplit, PreparedTask } from './data.js';
import type { SequenceClassifier, TokenBatch } from './encoder.js';
import type { DropoutSeeds } from './layers.js';
import { crossEntropy, meanSquaredError } from './losses.js';
import { createMaskingStrategy } from './masking/create.js';
import { classificationMetrics, type EvaluationMetrics, regressionMetrics } from './metrics.js';
import { maskSettings, type SelectionMetric, type StageSettings } from './settings.js';
import { padBatch, type TokenizedTexts } from './tokenize.js';

export const STAGES = ['intermediate', 'target'] as const;
export type StageName = (typeof STAGES)[number];

/** One optimiser step of a stage. */
export interface StepProgress {
  readonly stage: StageName;
  readonly epoch: number;
  readonly epochs: number;
  /** Optimiser steps taken in this stage, out of `totalSteps` (early stopping may end it sooner). */
  readonly step: number;
  readonly totalSteps: number;
  /** Mean training loss of the micro-batches of this step. */
  readonly loss: number;
  readonly learningRate: number;
  /** Seconds left in the stage at the pace so far, evaluation not counted. */
  readonly etaSeconds: number;
}

export interface EpochResult {
  readonly epoch: number;
  /** Mean training loss over the epoch's examples. */
  readonly trainLoss: number;
  /** On the held-out split, after the epoch. */
  readonly metrics: EvaluationMetrics;
  readonly seconds: number;
}

export interface StageReport {
  readonly stage: StageName;
  readonly task: string;
  readonly settings: StageSettings;
  readonly mask: string;
  readonly trainExamples: number;
  readonly evaluationExamples: number;
  /** The held-out metrics before training (the fresh head on the stage's starting weights). */
  readonly initialMetrics: EvaluationMetrics;
  readonly epochs: readonly EpochResult[];
  /** The epoch whose weights the stage ends with (the best by `selectBy`). */
  readonly bestEpoch: number;
  readonly metrics: EvaluationMetrics;
  readonly stoppedEarly: boolean;
  readonly steps: number;
  readonly seconds: number;
}

export interface StageOptions {
  readonly stage: StageName;
  readonly onStep?: (progress: StepProgress) => void;
  readonly onEpoch?: (result: EpochResult & { readonly stage: StageName; readonly epochs: number }) => void;
  readonly signal?: AbortSignal;
}

/** Sequences in batches of similar length (longest first), so padding stays small; indices into `sequences`. */
function lengthSortedBatches(sequences: TokenizedTexts, batchSize: number): Int32Array[] {
  const order = Int32Array.from(sequences.keys()).sort((a, b) => sequences[b].length - sequences[a].length);
  const batches: Int32Array[] = [];
  for (let start = 0; start < order.length; start += batchSize) batches.push(order.subarray(start, start + batchSize));
  return batches;
}

/** Held-out metrics of the model (no dropout): accuracy and macro-F1, or Pearson, Spearman and MSE. */
export function evaluate(model: SequenceClassifier, data: PreparedTask, split: PreparedSplit, batchSize: number): EvaluationMetrics {
  const predictions = new Float32Array(split.size * (data.task === 'classification' ? 1 : data.numLabels));
  for (const rows of lengthSortedBatches(split.sequences, batchSize)) {
    const outputs = tf.tidy(() => {
      const logits = model.logits(padBatch(split.sequences, rows), null);
      return data.task === 'classification' ? tf.argMax(logits, 1) : logits;
    });
    const values = outputs.dataSync();
    outputs.dispose();
    const width = values.length / rows.length;
    rows.forEach((row, i) => predictions.set(values.subarray(i * width, (i + 1) * width), row * width));
  }
  return data.task === 'classification' ? classificationMetrics(predictions, split.codes!) : regressionMetrics(predictions, split.targets!, data.numLabels);
}

/** hfselect's pooled embeddings of the sequences (evaluation mode), in their order. */
export function embedSequences(model: SequenceClassifier, sequences: TokenizedTexts, batchSize: number): Embeddings {
  const dim = model.config.hiddenSize;
  const data = new Float32Array(sequences.length * dim);
  for (const rows of lengthSortedBatches(sequences, batchSize)) {
    const pooled = model.embed(padBatch(sequences, rows));
    const values = pooled.dataSync();
    pooled.dispose();
    rows.forEach((row, i) => data.set(values.subarray(i * dim, (i + 1) * dim), row * dim));
  }
  return { rows: sequences.length, dim, data };
}

/** hfselect's pooled embeddings of the sequences by the encoder of a model folder (its head, if any, unused). */
export function embedWithEncoder(from: ModelFolder, pooling: Pooling, sequences: TokenizedTexts, batchSize: number): Embeddings {
  const model = createClassifier(from, { pooling, numLabels: 1, seed: 0 });
  try {
    return embedSequences(model, sequences, batchSize);
  } finally {
    model.dispose();
  }
}

/** The number the best epoch is chosen by; NaN (e.g. a constant prediction's correlation) never wins. */
function score(metrics: EvaluationMetrics, metric: SelectionMetric): number {
  const value = (metrics as unknown as Record<string, number | undefined>)[metric];
  return value === undefined || Number.isNaN(value) ? -Infinity : value;
}

function defaultSelectionMetric(data: PreparedTask): SelectionMetric {
  return data.task === 'classification' ? 'accuracy' : 'pearson';
}

function batchLoss(model: SequenceClassifier, data: PreparedTask, batch: TokenBatch, rows: Int32Array, seeds: DropoutSeeds): tf.Scalar {
  const logits = model.logits(batch, seeds);
  const { train } = data;
  if (data.task === 'classification')
    return crossEntropy(
      logits,
      Int32Array.from(rows, (r) => train.codes![r]),
    );
  const k = data.numLabels;
  const targets = new Float32Array(rows.length * k);
  rows.forEach((r, i) => targets.set(train.targets!.subarray(r * k, (r + 1) * k), i * k));
  return meanSquaredError(logits, targets);
}

/**
 * Fine-tunes the model on a task as transformers' Trainer would: each epoch a fresh seeded order of
 * the training examples in micro-batches, the loss of …ForSequenceClassification with dropout,
 * TrainingOptimizer (AdamW, linear warm-up/decay, clipping, accumulation, the stage's masking
 * strategy), evaluation on the held-out split after every epoch, early stopping after `patience`
 * epochs without improvement, and the best epoch's weights restored at the end
 * (`load_best_model_at_end`). Everything random derives from `settings.seed`.
 */
export async function trainStage(model: SequenceClassifier, data: PreparedTask, settings: StageSettings, options: StageOptions): Promise<StageReport> {
  const started = performance.now();
  const { train } = data;
  const selectBy = settings.selectBy ?? defaultSelectionMetric(data);
  const microBatches = Math.ceil(train.size / settings.batchSize);
  const stepsPerEpoch = Math.ceil(microBatches / settings.accumulationSteps);
  const totalSteps = stepsPerEpoch * settings.epochs;
  const strategy = createMaskingStrategy(maskSettings(settings), model.parameters, totalSteps);
  const optimizer = new TrainingOptimizer(model.parameters, {
    learningRate: settings.learningRate,
    weightDecay: settings.weightDecay,
    totalSteps,
    warmupSteps: Math.round(settings.warmupRatio * totalSteps),
    maxGradNorm: settings.maxGradNorm,
    accumulationSteps: settings.accumulationSteps,
    gradientMask: strategy,
    maskedEntries: settings.maskedEntries,
  });
  // Separate streams, so a change to the dropout of one layer does not reshuffle the data.
  const shuffle = seededUniform(settings.seed);
  const dropoutStream = seededUniform(settings.seed + 0x9e3779b9);
  const seeds: DropoutSeeds = () => Math.floor(dropoutStream() * 2 ** 31);
  const variables = model.parameters.map((p) => p.variable);
  const evaluationBatch = settings.batchSize * 2;

  const epochs: EpochResult[] = [];
  let best: { epoch: number; score: number; weights: Map<string, Float32Array> | null; metrics: EvaluationMetrics } | null = null;
  let stoppedEarly = false;
  let stepLoss = 0;
  let stepExamples = 0;
  const stepsStarted = performance.now();
  try {
    const initialMetrics = evaluate(model, data, data.evaluation, evaluationBatch);
    for (let epoch = 1; epoch <= settings.epochs; epoch++) {
      const epochStarted = performance.now();
      const order = shuffleInPlace(
        Int32Array.from({ length: train.size }, (_, i) => i),
        shuffle,
      );
      let lossSum = 0;
      const report = (step: { step: number; learningRate: number } | null) => {
        if (!step) return;
        const elapsed = (performance.now() - stepsStarted) / 1000;
        options.onStep?.({
          stage: options.stage,
          epoch,
          epochs: settings.epochs,
          step: step.step,
          totalSteps,
          loss: stepLoss / stepExamples,
          learningRate: step.learningRate,
          etaSeconds: (elapsed / step.step) * (totalSteps - step.step),
        });
        stepLoss = 0;
        stepExamples = 0;
      };
      for (let start = 0; start < train.size; start += settings.batchSize) {
        options.signal?.throwIfAborted();
        const rows = order.subarray(start, start + settings.batchSize);
        const batch = padBatch(train.sequences, rows);
        const { value, grads } = tf.variableGrads(() => batchLoss(model, data, batch, rows, seeds), variables);
        const loss = value.dataSync()[0];
        lossSum += loss * rows.length;
        stepLoss += loss * rows.length;
        stepExamples += rows.length;
        try {
          report(optimizer.update(variables.map((v) => grads[v.name])));
        } finally {
          tf.dispose([value, ...Object.values(grads)]);
        }
        await yieldToEventLoop();
      }
      report(optimizer.flush());
      const metrics = evaluate(model, data, data.evaluation, evaluationBatch);
      const result: EpochResult = { epoch, trainLoss: lossSum / train.size, metrics, seconds: (performance.now() - epochStarted) / 1000 };
      epochs.push(result);
      options.onEpoch?.({ ...result, stage: options.stage, epochs: settings.epochs });
      const current = score(metrics, selectBy);
      if (!best || current > best.score) {
        // The last epoch's weights are the model's own; earlier bests are copied in case a later epoch is worse.
        best = { epoch, score: current, weights: epoch < settings.epochs ? model.snapshot() : null, metrics };
      } else if (settings.patience > 0 && epoch - best.epoch >= settings.patience) {
        stoppedEarly = epoch < settings.epochs;
        break;
      }
    }
    const last = epochs[epochs.length - 1].epoch;
    if (best!.epoch !== last) model.restore(best!.weights!);
    return {
      stage: options.stage,
      task: data.id,
      settings,
      mask: strategy.description,
      trainExamples: train.size,
      evaluationExamples: data.evaluation.size,
      initialMetrics,
      epochs,
      bestEpoch: best!.epoch,
      metrics: best!.metrics,
      stoppedEarly,
      steps: optimizer.adamw.stepCount,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    optimizer.dispose();
    strategy.dispose();
  }
}

/**
 * One stage of a fine-tune: the encoder of `start` (the base model, or an intermediate checkpoint)
 * with a fresh head, trained on the task by `trainStage`. The caller owns the trained model and
 * disposes it; a failed stage disposes it here.
 */
export async function trainClassifier(
  start: ModelFolder,
  data: PreparedTask,
  settings: StageSettings,
  options: StageOptions & { readonly pooling: Pooling },
): Promise<{ model: SequenceClassifier; report: StageReport }> {
  const model = createClassifier(start, { pooling: options.pooling, numLabels: data.numLabels, seed: settings.seed });
  try {
    return { model, report: await trainStage(model, data, settings, options) };
  } catch (error) {
    model.dispose();
    throw error;
  }
}
