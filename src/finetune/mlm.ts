import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { writeFileAtomic } from '../io/atomic.js';
import { serializeSafetensors, type TensorToWrite } from '../io/safetensors.js';
import type { ModelFolder } from './checkpoint.js';
import { encoderSpecs, type ModelParameter, type ParameterSpec, type TokenBatch, TransformerEncoder } from './encoder.js';
import { activate, type DropoutSeeds, embeddingLookup, linear } from './layers.js';
import { crossEntropy } from './losses.js';
import type { EncoderConfig } from './model-config.js';

/** BertForMaskedLM's names: the encoder under `bert.`, the prediction head under `cls.predictions.`. */
const ENCODER_PREFIX = 'bert.';
const WORD_EMBEDDINGS = 'embeddings.word_embeddings.weight';

/**
 * BertForMaskedLM's parameters: BertModel without its pooler (`add_pooling_layer=False`), then
 * BertLMPredictionHead's transform (dense, activation, LayerNorm) and output bias. The decoder's
 * weight is the word embedding table (tied, as `tie_word_embeddings` defaults), so it has no entry.
 */
export function maskedLanguageModelSpecs(config: EncoderConfig): ParameterSpec[] {
  if (config.architecture !== 'bert') throw new Error('masked language modelling is implemented for BERT only');
  const h = config.hiddenSize;
  return [
    ...encoderSpecs(config).filter((s) => !s.name.startsWith('pooler.')),
    { name: 'cls.predictions.transform.dense.weight', shape: [h, h], kind: 'linear', group: 'head' },
    { name: 'cls.predictions.transform.dense.bias', shape: [h], kind: 'bias', group: 'head' },
    { name: 'cls.predictions.transform.LayerNorm.weight', shape: [h], kind: 'norm', group: 'head' },
    { name: 'cls.predictions.transform.LayerNorm.bias', shape: [h], kind: 'norm', group: 'head' },
    { name: 'cls.predictions.bias', shape: [config.vocabSize], kind: 'bias', group: 'head' },
  ];
}

/** A batch with some tokens corrupted for masked language modelling, and what they were. */
export interface MaskedBatch {
  /** The corrupted inputs. */
  readonly batch: TokenBatch;
  /** Flat indices (row · length + position) of the tokens to predict, ascending. */
  readonly positions: Int32Array;
  /** The original token at each of `positions`. */
  readonly labels: Int32Array;
}

export interface MaskingOptions {
  readonly vocabSize: number;
  readonly maskTokenId: number;
  /** Ids never chosen for prediction nor drawn as random replacements ([PAD], [CLS], [SEP], …). */
  readonly specialIds: ReadonlySet<number>;
  /** transformers' `mlm_probability`. */
  readonly probability?: number;
}

/**
 * BERT's masking rule (transformers' DataCollatorForLanguageModeling): each real, non-special token
 * is chosen for prediction with probability 0.15; a chosen token becomes [MASK] with probability
 * 0.8, a random token with probability 0.1 (drawn among the non-special ids, where the collator
 * draws from the whole vocabulary) and stays itself otherwise. Draws come from `uniform` token by
 * token in order, so a seed fixes the masks. A batch where nothing was chosen gets its first
 * maskable token chosen, so that the loss is defined.
 */
export function maskTokens(batch: TokenBatch, uniform: () => number, options: MaskingOptions): MaskedBatch {
  const probability = options.probability ?? 0.15;
  const inputIds = Int32Array.from(batch.inputIds);
  const positions: number[] = [];
  const labels: number[] = [];
  const regular = Int32Array.from({ length: options.vocabSize }, (_, id) => id).filter((id) => !options.specialIds.has(id));
  const randomToken = () => regular[Math.floor(uniform() * regular.length)];
  const maskable = (i: number) => batch.attentionMask[i] === 1 && !options.specialIds.has(batch.inputIds[i]);
  for (let i = 0; i < inputIds.length; i++) {
    if (!maskable(i) || uniform() >= probability) continue;
    positions.push(i);
    labels.push(inputIds[i]);
    const action = uniform();
    if (action < 0.8) inputIds[i] = options.maskTokenId;
    else if (action < 0.9) inputIds[i] = randomToken();
  }
  if (positions.length === 0) {
    const first = Array.from(inputIds.keys()).find(maskable);
    if (first === undefined) throw new RangeError('the batch has no token that can be masked');
    positions.push(first);
    labels.push(inputIds[first]);
    inputIds[first] = options.maskTokenId;
  }
  return { batch: { ...batch, inputIds }, positions: Int32Array.from(positions), labels: Int32Array.from(labels) };
}

/**
 * HF's BertForMaskedLM on TensorFlow.js variables: the encoder, then at the positions to predict
 * BertLMPredictionHead, LayerNorm(act(W h + b)) Eᵀ + bias, with E the word embeddings.
 */
export class MaskedLanguageModel extends TransformerEncoder {
  /** Scores over the vocabulary at the flat `positions` of the hidden states, [positions, vocab]. */
  predictionScores(hidden: tf.Tensor2D, positions: Int32Array): tf.Tensor2D {
    // Rows of the hidden states with a scatter-add gradient (the wasm backend lacks gather's).
    const rows = embeddingLookup(hidden, tf.tensor1d(positions, 'int32'));
    const transformed = this.norm(activate(this.dense(rows, 'cls.predictions.transform.dense'), this.config.activation), 'cls.predictions.transform.LayerNorm');
    return linear(transformed, this.p(WORD_EMBEDDINGS), this.p('cls.predictions.bias'));
  }

  /** The masked-language-modelling loss: the mean cross-entropy of the original tokens at the masked positions. */
  loss(masked: MaskedBatch, seeds: DropoutSeeds): tf.Scalar {
    return crossEntropy(this.predictionScores(this.hiddenStates(masked.batch, seeds), masked.positions), masked.labels);
  }

  /** The most likely token at each masked position (evaluation mode: no dropout). */
  predict(masked: MaskedBatch): Int32Array {
    const best = tf.tidy(() => tf.argMax(this.predictionScores(this.hiddenStates(masked.batch, null), masked.positions), 1));
    try {
      return Int32Array.from(best.dataSync());
    } finally {
      best.dispose();
    }
  }
}

/**
 * The values HF's `BertPreTrainedModel._init_weights` gives a fresh model: Linear and Embedding
 * weights ~ N(0, initializer_range) (the [PAD] row of the word embeddings zero), biases 0,
 * LayerNorm weights 1. Each parameter draws from its own seed, `seed` + its index.
 */
function initialValue(spec: ParameterSpec, config: EncoderConfig, seed: number): tf.Tensor {
  const shape = [...spec.shape];
  switch (spec.kind) {
    case 'linear':
      return tf.randomNormal(shape, 0, config.initializerRange, 'float32', seed);
    case 'embedding':
      return tf.tidy(() => {
        const values = tf.randomNormal(shape, 0, config.initializerRange, 'float32', seed);
        return spec.name === WORD_EMBEDDINGS ? tf.concat([tf.zeros([1, shape[1]]), tf.slice(values, [1, 0], [shape[0] - 1, shape[1]])]) : values;
      });
    case 'bias':
      return tf.zeros(shape);
    case 'norm':
      return spec.name.endsWith('.weight') ? tf.ones(shape) : tf.zeros(shape);
  }
}

function toModel(config: EncoderConfig, value: (spec: ParameterSpec, index: number) => tf.Tensor): MaskedLanguageModel {
  const parameters: ModelParameter[] = [];
  try {
    maskedLanguageModelSpecs(config).forEach((spec, i) => {
      const initial = value(spec, i);
      // Weight decay on matrices only, as HF's Trainer does.
      parameters.push({ ...spec, variable: tf.variable(initial), decay: spec.kind === 'linear' || spec.kind === 'embedding' });
      initial.dispose();
    });
  } catch (error) {
    for (const { variable } of parameters) variable.dispose();
    throw error;
  }
  return new MaskedLanguageModel(config, parameters);
}

/** A BertForMaskedLM with HF's initial weights, drawn from `seed`. */
export function createMaskedLanguageModel(config: EncoderConfig, seed: number): MaskedLanguageModel {
  return toModel(config, (spec, i) => initialValue(spec, config, seed + i));
}

/** A BertForMaskedLM from a folder `saveMaskedLanguageModel` wrote (or any with the same tensors). */
export function loadMaskedLanguageModel(model: ModelFolder): MaskedLanguageModel {
  return toModel(model.config, (spec) => {
    const stored = model.tensors.get(spec.group === 'head' ? spec.name : ENCODER_PREFIX + spec.name) ?? model.tensors.get(spec.name);
    if (!stored) throw new Error(`${model.folder}: no tensor ${spec.name}`);
    if (stored.shape.join() !== spec.shape.join())
      throw new Error(`${model.folder}: ${spec.name} has shape [${stored.shape.join(', ')}], expected [${spec.shape.join(', ')}]`);
    return tf.tensor(stored.values, [...spec.shape]);
  });
}

/** model.safetensors as BertForMaskedLM.save_pretrained writes it: `bert.…` and `cls.predictions.…`, the tied decoder left out. */
export async function saveMaskedLanguageModel(model: MaskedLanguageModel, folder: string): Promise<void> {
  await mkdir(folder, { recursive: true });
  const tensors: Record<string, TensorToWrite> = {};
  for (const { name, shape, group, variable } of model.parameters) {
    tensors[group === 'head' ? name : ENCODER_PREFIX + name] = { dtype: 'F32', shape, data: Float32Array.from(variable.dataSync()) };
  }
  await writeFileAtomic(join(folder, 'model.safetensors'), serializeSafetensors(tensors, { format: 'pt' }));
}
