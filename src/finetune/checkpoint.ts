import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { Pooling } from '../embed/pooling.js';
import { UserInputError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { parseSafetensors, SafetensorsError, serializeSafetensors, type TensorToWrite, toFloat32 } from '../io/safetensors.js';
import type { ClassLabel, TaskType } from '../task/labels.js';
import { encoderSpecs, headSpecs, type ModelParameter, type ParameterSpec, SequenceClassifier } from './encoder.js';
import { type EncoderConfig, parseEncoderConfig } from './model-config.js';

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
/** What other tools need beside the weights to use a checkpoint; copied from the base model when it has them. */
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt'] as const;

/** A Hugging Face model folder read for training: its config and float32 weights by name. */
export interface ModelFolder {
  readonly folder: string;
  /** config.json as written, kept so checkpoints carry every field the base had. */
  readonly rawConfig: Record<string, unknown>;
  readonly config: EncoderConfig;
  readonly tensors: ReadonlyMap<string, { readonly shape: readonly number[]; readonly values: Float32Array }>;
}

async function readOrExplain(folder: string, file: string): Promise<Buffer> {
  try {
    return await readFile(join(folder, file));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserInputError(`model: ${join(folder, file)} ${code === 'ENOENT' ? 'is missing' : `cannot be read (${code})`}`, 'model');
  }
}

/** Reads config.json and model.safetensors of a BERT or DistilBERT folder (a base model or a checkpoint). */
export async function readModelFolder(folder: string): Promise<ModelFolder> {
  let rawConfig: Record<string, unknown>;
  try {
    rawConfig = JSON.parse((await readOrExplain(folder, CONFIG_FILE)).toString('utf8')) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof UserInputError) throw error;
    throw new UserInputError(`model: ${join(folder, CONFIG_FILE)} is not valid JSON`, 'model');
  }
  const config = parseEncoderConfig(rawConfig, folder);
  const bytes = await readOrExplain(folder, WEIGHTS_FILE);
  const tensors = new Map<string, { shape: readonly number[]; values: Float32Array }>();
  try {
    for (const [name, raw] of parseSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)).tensors) {
      if (raw.dtype === 'F32' || raw.dtype === 'F16' || raw.dtype === 'BF16' || raw.dtype === 'F64')
        tensors.set(name, { shape: raw.shape, values: toFloat32(raw) });
    }
  } catch (error) {
    if (error instanceof SafetensorsError) throw new UserInputError(`model: ${join(folder, WEIGHTS_FILE)}: ${error.message}`, 'model');
    throw error;
  }
  return { folder, rawConfig, config, tensors };
}

/** A BertModel checkpoint names a tensor `embeddings.…`; a BertForSequenceClassification one `bert.embeddings.…`. */
function stored(model: ModelFolder, spec: ParameterSpec): Float32Array | undefined {
  const prefix = spec.group === 'head' ? [''] : ['', `${model.config.architecture}.`];
  for (const p of prefix) {
    const tensor = model.tensors.get(p + spec.name);
    if (!tensor) continue;
    if (tensor.shape.length !== spec.shape.length || tensor.shape.some((s, i) => s !== spec.shape[i])) {
      if (spec.group === 'head') return undefined;
      throw new UserInputError(
        `model: ${join(model.folder, WEIGHTS_FILE)}: ${p + spec.name} has shape [${tensor.shape.join(', ')}], config.json implies [${spec.shape.join(', ')}]`,
        'model',
      );
    }
    return tensor.values;
  }
  return undefined;
}

/** HF's `_init_weights` for a layer it creates: Linear weights ~ N(0, initializer_range), biases 0. */
function initialValue(spec: ParameterSpec, config: EncoderConfig, seed: number): tf.Tensor {
  if (spec.kind === 'linear') return tf.randomNormal([...spec.shape], 0, config.initializerRange, 'float32', seed);
  if (spec.kind === 'bias') return tf.zeros([...spec.shape]);
  throw new UserInputError(`model: the checkpoint has no ${spec.name}, which cannot be initialised afresh`, 'model');
}

export interface ClassifierOptions {
  readonly pooling: Pooling;
  readonly numLabels: number;
  /** Seeds the weights created afresh (the head; the pooler when a checkpoint lacks it). */
  readonly seed: number;
  /** Take the head from the folder when it has one of the right shape (resuming); default: a fresh head. */
  readonly keepHead?: boolean;
}

/** A trainable classifier from a model folder: its encoder weights and a fresh head (or the stored one). */
export function createClassifier(model: ModelFolder, options: ClassifierOptions): SequenceClassifier {
  const specs = [...encoderSpecs(model.config), ...headSpecs(model.config, options.numLabels)];
  const parameters: ModelParameter[] = [];
  try {
    specs.forEach((spec, i) => {
      const values = spec.group === 'head' && !options.keepHead ? undefined : stored(model, spec);
      const fresh = spec.group === 'head' || spec.name.startsWith('pooler.');
      if (!values && !fresh) throw new UserInputError(`model: ${join(model.folder, WEIGHTS_FILE)} has no tensor ${spec.name}`, 'model');
      const initial = values ? tf.tensor(values, [...spec.shape]) : initialValue(spec, model.config, options.seed + i);
      // Weight decay on matrices only: HF's Trainer exempts biases and LayerNorm weights.
      parameters.push({ ...spec, variable: tf.variable(initial), decay: spec.kind === 'linear' || spec.kind === 'embedding' });
      initial.dispose();
    });
  } catch (error) {
    for (const { variable } of parameters) variable.dispose();
    throw error;
  }
  return new SequenceClassifier(model.config, options.pooling, options.numLabels, parameters);
}

/** What a checkpoint's config.json says about its head, in HF's terms. */
export interface HeadLabels {
  readonly task: TaskType;
  /** The class of each output (classification), in output order. */
  readonly classes?: readonly ClassLabel[];
}

/**
 * Writes the classifier as a Hugging Face …ForSequenceClassification folder: model.safetensors with
 * HF's tensor names (`bert.…`/`distilbert.…`, `classifier.…`), config.json (the base's fields plus
 * architectures, id2label/label2id, problem_type) and the base's tokenizer files, so
 * `AutoModelForSequenceClassification.from_pretrained(folder)` loads it. Each file is written
 * atomically; the weights go first, so a folder whose config.json names the head is complete.
 */
export async function saveCheckpoint(model: SequenceClassifier, base: ModelFolder, labels: HeadLabels, folder: string): Promise<void> {
  await mkdir(folder, { recursive: true });
  const tensors: Record<string, TensorToWrite> = {};
  for (const { name, shape, group, variable } of model.parameters) {
    tensors[group === 'head' ? name : `${model.config.architecture}.${name}`] = { dtype: 'F32', shape, data: Float32Array.from(variable.dataSync()) };
  }
  await writeFileAtomic(join(folder, WEIGHTS_FILE), serializeSafetensors(tensors, { format: 'pt' }));
  for (const file of TOKENIZER_FILES) {
    const bytes = await readFile(join(base.folder, file)).catch(() => null);
    if (bytes) await writeFileAtomic(join(folder, file), bytes);
  }
  const names = labels.task === 'classification' ? (labels.classes ?? []).map(String) : Array.from({ length: model.numLabels }, (_, i) => `LABEL_${i}`);
  const config = {
    ...base.rawConfig,
    architectures: [model.config.architecture === 'bert' ? 'BertForSequenceClassification' : 'DistilBertForSequenceClassification'],
    id2label: Object.fromEntries(names.map((n, i) => [String(i), n])),
    label2id: Object.fromEntries(names.map((n, i) => [n, i])),
    problem_type: labels.task === 'classification' ? 'single_label_classification' : 'regression',
  };
  await writeFileAtomic(join(folder, CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
}
