import * as tf from '@tensorflow/tfjs-core';
import { createClassifier, readModelFolder } from '../../src/finetune/checkpoint.js';
import type { SequenceClassifier } from '../../src/finetune/encoder.js';
import { crossEntropy } from '../../src/finetune/losses.js';
import { loadTokenizer, padBatch } from '../../src/finetune/tokenize.js';
import { seededUniform } from '../../src/random.js';
import { tinyModel } from './finetune.js';

/**
 * ∂loss/∂θᵢ by central differences, (L(θ + h·eᵢ) − L(θ − h·eᵢ)) / 2h, for entry `index` of a
 * parameter; the parameter is left as it was.
 */
export function centralDifference(
  parameter: { readonly variable: tf.Variable; readonly shape: readonly number[] },
  index: number,
  loss: () => tf.Scalar,
  step: number,
): number {
  const { variable, shape } = parameter;
  const original = variable.dataSync().slice();
  const lossAt = (delta: number): number => {
    const moved = original.slice();
    moved[index] += delta;
    tf.tidy(() => variable.assign(tf.tensor(moved, [...shape])));
    const l = loss();
    const result = l.dataSync()[0];
    l.dispose();
    return result;
  };
  const difference = (lossAt(step) - lossAt(-step)) / (2 * step);
  tf.tidy(() => variable.assign(tf.tensor(original, [...shape])));
  return difference;
}

/**
 * Hand-picked entries of the tiny BERT classifier whose gradients pass through every kind of
 * layer (embeddings, LayerNorm, attention, feed-forward, pooler, head), each large enough (|g| ≳ 1e-3)
 * for float32 central differences to resolve to under 0.1%.
 */
export const CHECKED_ENTRIES: readonly (readonly [string, number])[] = [
  ['embeddings.position_embeddings.weight', 2 * 32 + 7],
  ['embeddings.LayerNorm.weight', 3],
  ['encoder.layer.0.attention.self.query.weight', 40],
  ['encoder.layer.0.attention.output.LayerNorm.weight', 1],
  ['encoder.layer.1.intermediate.dense.weight', 100],
  ['pooler.dense.weight', 77],
  ['classifier.weight', 10],
];

/**
 * Central differences at this step: the float32 loss's rounding noise over h (~1e-7 / 0.03) and
 * the O(h²) truncation both stay around 1e-6, under 0.1% of these gradients.
 */
export const STEP = 0.03;
/** Relative agreement required; the correct gradient's measured errors are at most 0.06%. */
export const TOLERANCE = 5e-3;

export interface EntryCheck {
  readonly name: string;
  readonly index: number;
  readonly autodiff: number;
  readonly finiteDifference: number;
  readonly relativeError: number;
}

/**
 * Compares tf.variableGrads of the tiny BERT classifier's cross-entropy on three texts (with fixed
 * dropout masks, so the loss is a deterministic function of the weights) with central differences
 * (L(θ + h) − L(θ − h)) / 2h on `CHECKED_ENTRIES`.
 */
export async function checkClassifierGradients(): Promise<EntryCheck[]> {
  const folder = tinyModel('tiny-bert');
  const model: SequenceClassifier = createClassifier(await readModelFolder(folder), { pooling: 'pooler_output', numLabels: 3, seed: 1 });
  const tokenizer = await loadTokenizer(folder);
  const batch = padBatch(tokenizer.tokenize(['the movie was great', 'bad food and terrible service', 'hello world']), [0, 1, 2]);
  const codes = Int32Array.from([0, 2, 1]);
  const seeds = () => {
    const uniform = seededUniform(7);
    return () => Math.floor(uniform() * 2 ** 31);
  };
  const loss = () => tf.tidy(() => crossEntropy(model.logits(batch, seeds()), codes));
  const { value, grads } = tf.variableGrads(
    loss,
    model.parameters.map((p) => p.variable),
  );
  value.dispose();
  const checks = CHECKED_ENTRIES.map(([name, index]) => {
    const parameter = model.parameters.find((p) => p.name === name)!;
    const finiteDifference = centralDifference(parameter, index, loss, STEP);
    const { variable } = parameter;
    const autodiff = grads[variable.name].dataSync()[index];
    return {
      name,
      index,
      autodiff,
      finiteDifference,
      relativeError: Math.abs(autodiff - finiteDifference) / Math.max(Math.abs(autodiff), Math.abs(finiteDifference)),
    };
  });
  tf.dispose(grads);
  model.dispose();
  return checks;
}
