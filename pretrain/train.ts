import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import * as tf from '@tensorflow/tfjs-core';
import type { DropoutSeeds } from '../src/finetune/layers.js';
import { type MaskedBatch, type MaskedLanguageModel, type MaskingOptions, maskTokens } from '../src/finetune/mlm.js';
import { padBatch, type TokenizedTexts } from '../src/finetune/tokenize.js';
import { seededUniform, shuffleInPlace } from '../src/random.js';
import { TrainingOptimizer } from '../src/tf/optimizer.js';
import { streamSeed } from '../study/tasks.js';

export interface PretrainingSettings {
  readonly seed: number;
  readonly epochs: number;
  /** Sequences per optimiser step. */
  readonly batchSize: number;
  readonly learningRate: number;
  readonly warmupRatio: number;
  readonly weightDecay: number;
  readonly maxGradNorm: number;
  /** Apply the config's dropout while pretraining; false trains without it (the config's rates then serve fine-tunes only). */
  readonly dropout: boolean;
}

export interface PretrainingProgress {
  readonly step: number;
  readonly totalSteps: number;
  readonly epoch: number;
  /** Mean loss over the steps since the last report. */
  readonly loss: number;
  readonly learningRate: number;
  readonly tokensPerSecond: number;
  readonly etaSeconds: number;
}

/** Batches per group of similar length: sequences are sorted by length within windows of this many batches. */
const LENGTH_WINDOW = 50;

/**
 * One epoch's batches (indices into `sequences`): a seeded shuffle, then within each window of
 * `LENGTH_WINDOW` batches the sequences sorted by length (little padding), then the batches shuffled.
 */
export function epochBatches(sequences: TokenizedTexts, batchSize: number, uniform: () => number): Int32Array[] {
  const order = shuffleInPlace(Int32Array.from(sequences.keys()), uniform);
  const batches: Int32Array[] = [];
  for (let start = 0; start < order.length; start += batchSize * LENGTH_WINDOW) {
    const window = order.slice(start, start + batchSize * LENGTH_WINDOW).sort((a, b) => sequences[a].length - sequences[b].length || a - b);
    for (let b = 0; b < window.length; b += batchSize) batches.push(window.subarray(b, b + batchSize));
  }
  return shuffleInPlace(batches, uniform);
}

/** Masked batches of `sequences` with masks fixed by `seed` (evaluation: the same positions for every model). */
export function evaluationBatches(sequences: TokenizedTexts, batchSize: number, masking: MaskingOptions, seed: number): MaskedBatch[] {
  const uniform = seededUniform(seed);
  const batches: MaskedBatch[] = [];
  for (let start = 0; start < sequences.length; start += batchSize) {
    const rows = Int32Array.from({ length: Math.min(batchSize, sequences.length - start) }, (_, i) => start + i);
    batches.push(maskTokens(padBatch(sequences, rows), uniform, masking));
  }
  return batches;
}

/** The share of masked tokens the model predicts exactly (top-1), and how many there were. */
export function maskedAccuracy(model: MaskedLanguageModel, batches: readonly MaskedBatch[]): { accuracy: number; tokens: number } {
  let correct = 0;
  let tokens = 0;
  for (const masked of batches) {
    const predicted = model.predict(masked);
    predicted.forEach((id, i) => (correct += id === masked.labels[i] ? 1 : 0));
    tokens += predicted.length;
  }
  return { accuracy: correct / tokens, tokens };
}

/**
 * Masked-language-model pretraining: every epoch a seeded order of the sequences in length-grouped
 * batches, fresh masks per batch (BERT's rule, dynamic as RoBERTa's), dropout if `settings.dropout`, and AdamW with a
 * linear warm-up and decay, weight decay and gradient clipping (TrainingOptimizer). Order, masks and
 * dropout draw from separate streams of `settings.seed`, so a seed fixes every weight.
 */
export async function pretrain(
  model: MaskedLanguageModel,
  sequences: TokenizedTexts,
  settings: PretrainingSettings,
  masking: MaskingOptions,
  onProgress?: (progress: PretrainingProgress) => void,
  reportEvery = 50,
): Promise<{ steps: number; seconds: number; finalLoss: number }> {
  const stepsPerEpoch = Math.ceil(sequences.length / settings.batchSize);
  const totalSteps = stepsPerEpoch * settings.epochs;
  const optimizer = new TrainingOptimizer(model.parameters, {
    learningRate: settings.learningRate,
    weightDecay: settings.weightDecay,
    totalSteps,
    warmupSteps: Math.round(settings.warmupRatio * totalSteps),
    maxGradNorm: settings.maxGradNorm,
  });
  const order = seededUniform(streamSeed(settings.seed, 1));
  const masks = seededUniform(streamSeed(settings.seed, 2));
  const dropoutStream = seededUniform(streamSeed(settings.seed, 3));
  const seeds: DropoutSeeds = settings.dropout ? () => Math.floor(dropoutStream() * 2 ** 31) : null;
  const variables = model.parameters.map((p) => p.variable);
  const started = performance.now();
  let step = 0;
  let lossSum = 0;
  let lossSteps = 0;
  let finalLoss = Number.NaN;
  let tokens = 0;
  try {
    for (let epoch = 1; epoch <= settings.epochs; epoch++) {
      for (const rows of epochBatches(sequences, settings.batchSize, order)) {
        const masked = maskTokens(padBatch(sequences, rows), masks, masking);
        const { value, grads } = tf.variableGrads(() => model.loss(masked, seeds), variables);
        try {
          finalLoss = value.dataSync()[0];
          const update = optimizer.update(variables.map((v) => grads[v.name]));
          step++;
          lossSum += finalLoss;
          lossSteps++;
          tokens += masked.batch.size * masked.batch.length;
          if (onProgress && (step % reportEvery === 0 || step === totalSteps)) {
            const seconds = (performance.now() - started) / 1000;
            onProgress({
              step,
              totalSteps,
              epoch,
              loss: lossSum / lossSteps,
              learningRate: update?.learningRate ?? Number.NaN,
              tokensPerSecond: tokens / seconds,
              etaSeconds: (seconds / step) * (totalSteps - step),
            });
            lossSum = 0;
            lossSteps = 0;
          }
        } finally {
          tf.dispose([value, ...Object.values(grads)]);
        }
        await yieldToEventLoop();
      }
    }
  } finally {
    optimizer.dispose();
  }
  return { steps: step, seconds: (performance.now() - started) / 1000, finalLoss };
}
