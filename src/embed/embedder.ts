import { join } from 'node:path';
import { AutoModel, AutoTokenizer, env, type PreTrainedModel, type PreTrainedTokenizer, Tensor } from '@huggingface/transformers';
import { modelsDir } from '../config.js';
import { UserInputError } from '../errors.js';
import type { Embeddings } from '../io/embeddings.js';
import { readSafetensorsTensors, toFloat32 } from '../io/safetensors.js';
import { checkModelFolder, describeModel, type EmbeddingMeta, modelFolder } from './model-folder.js';
import { applyBertPooler, type BertPooler, firstToken, type HiddenStates, meanPool, type Pooling } from './pooling.js';
import { encodeTexts, type TextEncoding } from './truncation.js';

/** hfselect tokenises with `max_length=128, truncation=True` (Dataset.collate_fn); see truncation.ts. */
export const DEFAULT_MAX_LENGTH = 128;
export const DEFAULT_BATCH_SIZE = 32;

export interface EmbedderOptions {
  /** Where model folders live; default `modelsDir()` (ESMSELECT_MODELS_DIR, else models/). */
  readonly modelsDir?: string;
  /** Allow downloads from the Hugging Face Hub into the models directory; default ESMSELECT_ALLOW_REMOTE=1. */
  readonly allowRemote?: boolean;
  readonly maxLength?: number;
  /** Overrides hfselect's pooling rule for the model (`poolingFor`); ESMs must have been trained on the same pooling. */
  readonly pooling?: Pooling;
}

export interface EmbedOptions {
  readonly batchSize?: number;
  readonly onProgress?: (progress: { done: number; total: number }) => void;
  /** Checked between batches. */
  readonly signal?: AbortSignal;
}

/** What sentence-transformers exports (optimum) call the last hidden states. */
const HIDDEN_STATE_OUTPUTS = ['last_hidden_state', 'token_embeddings'] as const;
/** BertModel.save_pretrained names the pooler `pooler.dense.*`; a BertFor… checkpoint prefixes `bert.`. */
const POOLER_PREFIXES = ['pooler.dense.', 'bert.pooler.dense.'] as const;

export function allowRemoteDefault(): boolean {
  return process.env.ESMSELECT_ALLOW_REMOTE === '1';
}

/**
 * Embeds texts with a base model through transformers.js (ONNX Runtime), tokenised and pooled as
 * hfselect does. Sequences are padded to the longest of their batch rather than to max_length: the
 * attention mask gives padding exactly zero weight, so the pooled vectors are the same.
 */
export class TextEmbedder {
  private constructor(
    readonly meta: EmbeddingMeta,
    /** The model's folder under the models directory. */
    readonly folder: string,
    private readonly tokenizer: PreTrainedTokenizer,
    private readonly encoder: PreTrainedModel,
    private readonly hiddenOutput: string,
    /** Set when the ONNX graph has no pooler_output: the pooler is applied from model.safetensors. */
    private readonly pooler: BertPooler | undefined,
  ) {}

  static async load(model: string, options: EmbedderOptions = {}): Promise<TextEmbedder> {
    const root = options.modelsDir ?? modelsDir();
    const allowRemote = options.allowRemote ?? allowRemoteDefault();
    const folder = modelFolder(model, root);
    if (!allowRemote) await checkModelFolder(model, folder);
    // transformers.js keeps these settings globally; downloads land in the models directory too.
    env.allowLocalModels = true;
    env.localModelPath = root;
    env.allowRemoteModels = allowRemote;
    env.cacheDir = root;
    const tokenizer = await AutoTokenizer.from_pretrained(model);
    const encoder = await AutoModel.from_pretrained(model, { dtype: 'fp32', device: 'cpu' });
    const meta = await describeModel(model, folder, options.maxLength ?? DEFAULT_MAX_LENGTH, options.pooling);
    const outputNames = (encoder.sessions.model as { outputNames: string[] }).outputNames;
    const hiddenOutput = HIDDEN_STATE_OUTPUTS.find((name) => outputNames.includes(name));
    if (!hiddenOutput) {
      throw new UserInputError(
        `model: ${model}: the ONNX graph has none of the outputs ${HIDDEN_STATE_OUTPUTS.join(', ')} (it has ${outputNames.join(', ')})`,
        'model',
      );
    }
    const pooler = meta.pooling === 'pooler_output' && !outputNames.includes('pooler_output') ? await readPooler(model, folder) : undefined;
    return new TextEmbedder(meta, folder, tokenizer, encoder, hiddenOutput, pooler);
  }

  get model(): string {
    return this.meta.model;
  }

  get pooling(): Pooling {
    return this.meta.pooling;
  }

  get dim(): number {
    return this.meta.dim;
  }

  /**
   * Embeds in batches of similar length (longest first, so padding is small and a batch that does
   * not fit in memory shows at once); rows come back in the order of `texts`.
   */
  async embed(texts: readonly string[], options: EmbedOptions = {}): Promise<Embeddings> {
    if (texts.length === 0) throw new UserInputError('dataset: no texts to embed', 'dataset');
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    const order = texts.map((_, i) => i).sort((a, b) => texts[b].length - texts[a].length);
    const data = new Float32Array(texts.length * this.dim);
    options.onProgress?.({ done: 0, total: texts.length });
    for (let start = 0; start < order.length; start += batchSize) {
      options.signal?.throwIfAborted();
      const rows = order.slice(start, start + batchSize);
      const pooled = await this.embedBatch(rows.map((i) => texts[i]));
      rows.forEach((row, j) => data.set(pooled.data.subarray(j * this.dim, (j + 1) * this.dim), row * this.dim));
      options.onProgress?.({ done: Math.min(start + batchSize, texts.length), total: texts.length });
    }
    return { rows: texts.length, dim: this.dim, data };
  }

  private async embedBatch(texts: string[]): Promise<Embeddings> {
    const inputs = padEncodings(encodeTexts(this.tokenizer, texts, this.meta.max_length), this.tokenizer.pad_token_id ?? 0);
    const outputs = (await this.encoder(inputs)) as Record<string, Tensor>;
    try {
      return this.pool(outputs, inputs.attention_mask);
    } finally {
      for (const tensor of [...Object.values(outputs), ...Object.values(inputs)]) tensor.dispose();
    }
  }

  private pool(outputs: Record<string, Tensor>, attentionMask: Tensor): Embeddings {
    const hidden = outputs[this.hiddenOutput] as unknown as HiddenStates;
    switch (this.pooling) {
      case 'mean':
        return meanPool(hidden, attentionMask.data as BigInt64Array);
      case 'first_token':
        return firstToken(hidden);
      case 'pooler_output': {
        if (this.pooler) return applyBertPooler(this.pooler, firstToken(hidden));
        const { dims, data } = outputs.pooler_output;
        return { rows: dims[0], dim: dims[1], data: Float32Array.from(data as Float32Array) };
      }
    }
  }

  async dispose(): Promise<void> {
    await this.encoder.dispose();
  }
}

/**
 * The encodings as int64 tensors, right-padded to the longest of them: `input_ids` with the pad
 * token, the attention mask and token types with 0 (transformers.js pads so).
 */
function padEncodings(encodings: readonly TextEncoding[], padId: number): Record<string, Tensor> {
  const length = Math.max(...encodings.map((encoding) => encoding.input_ids.length));
  const tensors: Record<string, Tensor> = {};
  for (const key of Object.keys(encodings[0])) {
    const data = new BigInt64Array(encodings.length * length).fill(BigInt(key === 'input_ids' ? padId : 0));
    encodings.forEach((encoding, row) => encoding[key].forEach((value, j) => (data[row * length + j] = BigInt(value))));
    tensors[key] = new Tensor('int64', data, [encodings.length, length]);
  }
  return tensors;
}

/**
 * The files BERT's pooler is read from, in order: the checkpoint's own model.safetensors, or the
 * pooler.safetensors that `esmselect model pull` writes (only the pooler tensors, taken from the
 * checkpoint on the Hub by range requests).
 */
export const POOLER_FILES = ['model.safetensors', 'pooler.safetensors'] as const;

/**
 * BERT's pooler from model.safetensors (or pooler.safetensors), for ONNX exports that stop at
 * last_hidden_state (optimum's feature-extraction export does).
 */
async function readPooler(model: string, folder: string): Promise<BertPooler> {
  const names = POOLER_PREFIXES.flatMap((prefix) => [`${prefix}weight`, `${prefix}bias`]);
  for (const file of POOLER_FILES) {
    const tensors = await readSafetensorsTensors(join(folder, file), names).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return new Map();
      throw error;
    });
    for (const prefix of POOLER_PREFIXES) {
      const weight = tensors.get(`${prefix}weight`);
      const bias = tensors.get(`${prefix}bias`);
      if (weight && bias) return { weight: toFloat32(weight), bias: toFloat32(bias) };
    }
  }
  throw new UserInputError(
    `model: ${model}: BERT is pooled with pooler_output, but onnx/model.onnx has no pooler_output and ${folder} has no pooler.dense weights in ${POOLER_FILES.join(' or ')} (add the model's model.safetensors, or esmselect model pull ${model})`,
    'model',
  );
}
