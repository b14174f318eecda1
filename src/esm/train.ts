import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import * as tf from '@tensorflow/tfjs-core';
import { UserInputError } from '../errors.js';
import type { Embeddings } from '../io/embeddings.js';
import { seededUniform, shuffleInPlace } from '../random.js';
import { loadTensorflow } from '../tf/backend.js';
import { TrainingOptimizer } from '../tf/optimizer.js';
import { type EsmConfig, parseEsmConfig } from './config.js';
import { EmbeddingSpaceMap, firstNonFinite } from './esm.js';

/** hfselect's ESMTrainer defaults (`trainers.py`), plus the held-out split and seed it leaves to chance. */
export const ESM_TRAINING_DEFAULTS = {
  epochs: 10,
  batchSize: 32,
  learningRate: 0.01,
  weightDecay: 0.01,
  warmupSteps: 0,
  maxGradNorm: 1.0,
  heldOutFraction: 0.1,
  seed: 0,
} as const;

export type EsmTrainingSettings = { -readonly [K in keyof typeof ESM_TRAINING_DEFAULTS]: number };

export interface EsmEpoch {
  readonly epoch: number;
  readonly epochs: number;
  /** Mean squared error over the epoch's training examples, as each batch saw it before its step. */
  readonly loss: number;
}

export interface EsmTrainingOptions extends Partial<EsmTrainingSettings> {
  readonly onEpoch?: (epoch: EsmEpoch) => void;
  readonly signal?: AbortSignal;
}

export interface EsmTrainingReport {
  readonly settings: EsmTrainingSettings;
  readonly epochLosses: number[];
  /** Variance-weighted R² of the map on the held-out pairs; null without a held-out split. */
  readonly heldOutR2: number | null;
  readonly trainRows: number;
  readonly heldOutRows: number;
  readonly steps: number;
  readonly backend: string;
  readonly seconds: number;
}

/** What describes the source task; the trainer fills in the esm_* fields hfselect's trainer sets. */
export type EsmMetadata = Pick<EsmConfig, 'base_model_name' | 'task_id'> & Partial<EsmConfig>;

function resolveSettings(options: EsmTrainingOptions): EsmTrainingSettings {
  const settings = { ...ESM_TRAINING_DEFAULTS } as EsmTrainingSettings;
  for (const key of Object.keys(settings) as (keyof EsmTrainingSettings)[]) {
    const value = options[key];
    if (value !== undefined) settings[key] = value;
  }
  const positiveIntegers = ['epochs', 'batchSize'] as const;
  for (const key of positiveIntegers) {
    if (!Number.isInteger(settings[key]) || settings[key] < 1) throw new UserInputError(`${key}: must be a positive integer, got ${settings[key]}`, key);
  }
  if (!Number.isInteger(settings.warmupSteps) || settings.warmupSteps < 0)
    throw new UserInputError(`warmupSteps: must be a non-negative integer, got ${settings.warmupSteps}`, 'warmupSteps');
  for (const key of ['learningRate', 'maxGradNorm'] as const) {
    if (!(settings[key] > 0)) throw new UserInputError(`${key}: must be positive, got ${settings[key]}`, key);
  }
  if (!(settings.weightDecay >= 0)) throw new UserInputError(`weightDecay: must be non-negative, got ${settings.weightDecay}`, 'weightDecay');
  if (!(settings.heldOutFraction >= 0 && settings.heldOutFraction < 1)) {
    throw new UserInputError(`heldOutFraction: must be in [0, 1), got ${settings.heldOutFraction}`, 'heldOutFraction');
  }
  if (!Number.isSafeInteger(settings.seed)) throw new UserInputError(`seed: must be an integer, got ${settings.seed}`, 'seed');
  return settings;
}

function checkPairs(base: Embeddings, tuned: Embeddings): void {
  if (base.rows !== tuned.rows)
    throw new UserInputError(`tuned: ${tuned.rows} embeddings, but the base model has ${base.rows}; they must embed the same texts`, 'tuned');
  if (base.dim !== tuned.dim)
    throw new UserInputError(
      `tuned: dimension ${tuned.dim}, but the base model's is ${base.dim}; a linear ESM maps a space onto one of the same size`,
      'tuned',
    );
  for (const [field, { data, dim }] of [
    ['base', base],
    ['tuned', tuned],
  ] as const) {
    const bad = firstNonFinite(data, dim);
    if (bad) throw new UserInputError(`${field}: row ${bad.row}, column ${bad.col} is not finite`, field);
  }
}

/** The rows `indices` of `embeddings`, contiguous. */
function gatherRows({ dim, data }: Embeddings, indices: ArrayLike<number>): Float32Array {
  const out = new Float32Array(indices.length * dim);
  for (let i = 0; i < indices.length; i++) out.set(data.subarray(indices[i] * dim, (indices[i] + 1) * dim), i * dim);
  return out;
}

/**
 * Variance-weighted R² (scikit-learn's `r2_score(multioutput='variance_weighted')`):
 * 1 − Σᵢⱼ(yᵢⱼ − ŷᵢⱼ)² / Σᵢⱼ(yᵢⱼ − ȳⱼ)², in float64.
 */
export function varianceWeightedR2(y: ArrayLike<number>, predicted: ArrayLike<number>, rows: number, dim: number): number {
  const mean = new Float64Array(dim);
  for (let i = 0; i < rows; i++) for (let j = 0; j < dim; j++) mean[j] += y[i * dim + j] / rows;
  let residual = 0;
  let total = 0;
  for (let i = 0; i < rows * dim; i++) {
    residual += (y[i] - predicted[i]) ** 2;
    total += (y[i] - mean[i % dim]) ** 2;
  }
  return 1 - residual / total;
}

/**
 * Fits a linear ESM y ≈ W x + b to pairs of embeddings of the same texts, from the base model (x)
 * and from the model fine-tuned on the source task (y), with hfselect's recipe (`ESMTrainer`):
 * nn.Linear(D, D) with PyTorch's default initialisation (W, b ~ U(−1/√D, 1/√D)), MSE loss (mean over
 * all elements), AdamW with decoupled weight decay on every parameter, a linear schedule without
 * warm-up, gradient clipping at global norm 1.0, batches of 32 drawn in a fresh random order each
 * epoch (the last one smaller), 10 epochs. Everything random derives from `seed`; a fraction of the
 * pairs is held out to report R².
 *
 * The gradients are the closed form, two matrix products, instead of a recorded tape: a linear
 * least-squares layer needs no autodiff, and skipping the tape saves its bookkeeping every step. With
 * E = X Wᵀ + 1bᵀ − Y over a batch of B rows, L = ‖E‖² / (B·D), so ∂L/∂W = (2 / (B·D)) Eᵀ X and ∂L/∂b = (2 / (B·D)) Σᵢ Eᵢ.
 */
export async function trainEsm(
  base: Embeddings,
  tuned: Embeddings,
  metadata: EsmMetadata,
  options: EsmTrainingOptions = {},
): Promise<{ esm: EmbeddingSpaceMap; report: EsmTrainingReport }> {
  const started = performance.now();
  const settings = resolveSettings(options);
  checkPairs(base, tuned);
  const n = base.rows;
  const d = base.dim;
  const heldOutRows = settings.heldOutFraction > 0 ? Math.max(1, Math.round(n * settings.heldOutFraction)) : 0;
  if (n - heldOutRows < 1) throw new UserInputError(`base: ${n} pairs leave none to train on after holding out ${heldOutRows}`, 'base');
  const config = parseEsmConfig({
    ...metadata,
    num_examples: metadata.num_examples ?? n,
    esm_architecture: 'linear',
    esm_embedding_dim: d,
    esm_num_epochs: settings.epochs,
    esm_batch_size: settings.batchSize,
    esm_learning_rate: settings.learningRate,
    esm_weight_decay: settings.weightDecay,
    esm_optimizer: 'AdamW',
    version: metadata.version ?? '0.2.0',
  });
  if ('problem' in config) throw new UserInputError(config.problem.replace(/^config\.json: /, ''), 'config');

  const uniform = seededUniform(settings.seed);
  const order = shuffleInPlace(
    Int32Array.from({ length: n }, (_, i) => i),
    uniform,
  );
  const heldOut = order.subarray(0, heldOutRows);
  const train = order.subarray(heldOutRows);
  const bound = 1 / Math.sqrt(d);
  const initialWeight = Float32Array.from({ length: d * d }, () => (2 * uniform() - 1) * bound);
  const initialBias = Float32Array.from({ length: d }, () => (2 * uniform() - 1) * bound);

  const { description } = await loadTensorflow();
  const x = tf.tensor2d(gatherRows(base, train), [train.length, d]);
  const y = tf.tensor2d(gatherRows(tuned, train), [train.length, d]);
  const weight = tf.variable(tf.tensor2d(initialWeight, [d, d]));
  const bias = tf.variable(tf.tensor1d(initialBias));
  const batchesPerEpoch = Math.ceil(train.length / settings.batchSize);
  const optimizer = new TrainingOptimizer(
    [
      { variable: weight, decay: true },
      { variable: bias, decay: true },
    ],
    {
      learningRate: settings.learningRate,
      weightDecay: settings.weightDecay,
      totalSteps: batchesPerEpoch * settings.epochs,
      warmupSteps: settings.warmupSteps,
      maxGradNorm: settings.maxGradNorm,
    },
  );
  const epochLosses: number[] = [];
  try {
    for (let epoch = 1; epoch <= settings.epochs; epoch++) {
      const permutation = shuffleInPlace(
        Int32Array.from({ length: train.length }, (_, i) => i),
        uniform,
      );
      let lossSum = 0;
      for (let start = 0; start < train.length; start += settings.batchSize) {
        options.signal?.throwIfAborted();
        const rows = permutation.subarray(start, start + settings.batchSize);
        const [loss, gradW, gradB] = tf.tidy(() => {
          const index = tf.tensor1d(rows, 'int32');
          const xb = tf.gather(x, index);
          const error = tf.sub(tf.add(tf.matMul(xb, weight, false, true), bias), tf.gather(y, index));
          const scale = 2 / (rows.length * d);
          return [tf.mean(tf.square(error)), tf.mul(tf.matMul(error, xb, true, false), scale), tf.mul(tf.sum(error, 0), scale)];
        });
        lossSum += loss.dataSync()[0] * rows.length;
        optimizer.update([gradW, gradB]);
        tf.dispose([loss, gradW, gradB]);
      }
      epochLosses.push(lossSum / train.length);
      options.onEpoch?.({ epoch, epochs: settings.epochs, loss: epochLosses[epochLosses.length - 1] });
      await yieldToEventLoop();
    }
    const esm = new EmbeddingSpaceMap(config.config, Float32Array.from(weight.dataSync()), Float32Array.from(bias.dataSync()));
    const heldOutR2 =
      heldOutRows === 0 ? null : varianceWeightedR2(gatherRows(tuned, heldOut), esm.apply(gatherRows(base, heldOut), heldOutRows), heldOutRows, d);
    const report: EsmTrainingReport = {
      settings,
      epochLosses,
      heldOutR2,
      trainRows: train.length,
      heldOutRows,
      steps: optimizer.adamw.stepCount,
      backend: description,
      seconds: (performance.now() - started) / 1000,
    };
    return { esm, report };
  } finally {
    optimizer.dispose();
    tf.dispose([x, y, weight, bias]);
  }
}
