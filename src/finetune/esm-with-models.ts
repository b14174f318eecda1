import { stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { modelsDir as defaultModelsDir } from '../config.js';
import { type DatasetOptions, readTextDataset, type TextDataset } from '../dataset/text-dataset.js';
import type { EmbeddingCache } from '../embed/cache.js';
import { embedTexts } from '../embed/embed-dataset.js';
import { DEFAULT_BATCH_SIZE, DEFAULT_MAX_LENGTH } from '../embed/embedder.js';
import { describeModel, modelFolder, REQUIRED_FILES } from '../embed/model-folder.js';
import type { Pooling } from '../embed/pooling.js';
import { UserInputError } from '../errors.js';
import type { EmbeddingSpaceMap } from '../esm/esm.js';
import { type EsmMetadata, type EsmTrainingOptions, type EsmTrainingReport, trainEsm } from '../esm/train.js';
import type { HubClient } from '../hub/client.js';
import type { Embeddings } from '../io/embeddings.js';
import { loadTensorflow } from '../tf/backend.js';
import { readModelFolder, WEIGHTS_FILE } from './checkpoint.js';
import { loadTokenizer } from './tokenize.js';
import { embedWithEncoder } from './trainer.js';

/**
 * hfselect's `ESMTrainer.train_with_models` (its Tutorial 3, how the public pool grows): the same
 * texts embedded by the base model and by a model fine-tuned on the source task, pooled by the same
 * rule (the base model's), and an ESM fitted to the pairs with hfselect's recipe.
 *
 * Each model is embedded the way its folder allows: the ONNX export through the embedder (the path
 * ranking uses, through the embedding cache), or, for a fine-tuned checkpoint with only
 * model.safetensors (the usual case), the fine-tuning runner's TensorFlow.js encoder, whose pooled
 * output equals the ONNX path's to float32 rounding (test/finetune/esm-with-models.test.ts). A model missing
 * from the models directory is pulled from the Hub (`ensureModel`).
 */

export type EmbeddingEngine = 'onnx' | 'tensorflow';

export interface TrainWithModelsOptions extends EsmTrainingOptions {
  /** A dataset file or a Hub dataset (hf://datasets/ORG/NAME), read with `datasetOptions`. */
  readonly dataset: string;
  readonly datasetOptions: DatasetOptions;
  /** The base model: the ESM's base_model_name and a folder name under the models directory. */
  readonly baseModel: string;
  /** The model fine-tuned on the source task, under the models directory (pulled when missing). */
  readonly tunedModel: string;
  /** The ESM's description; task_id, task_subset, task_split and the columns default to the dataset's. */
  readonly metadata?: Partial<EsmMetadata>;
  readonly modelsDir?: string;
  readonly maxLength?: number;
  /** Texts per model call (`batchSize` is the ESM training's). */
  readonly embedBatchSize?: number;
  /** For the ONNX path's embeddings. */
  readonly cache?: EmbeddingCache;
  /** Pull a model missing from the models directory; default true. */
  readonly pullMissing?: boolean;
  readonly hub?: HubClient;
  readonly onNote?: (note: string) => void;
  readonly onDownload?: (progress: { file: string; done: number; total: number }) => void;
  readonly onEmbedProgress?: (progress: { model: string; done: number; total: number }) => void;
}

export interface TrainedWithModels {
  readonly esm: EmbeddingSpaceMap;
  readonly report: EsmTrainingReport;
  readonly dataset: TextDataset;
  readonly pooling: Pooling;
  /** The pairs the ESM was fitted to. */
  readonly embeddings: { readonly base: Embeddings; readonly tuned: Embeddings };
  readonly engines: { readonly base: EmbeddingEngine; readonly tuned: EmbeddingEngine };
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null)) !== null;
}

/**
 * hfselect's pooled embeddings of `texts` by a model folder's weights on the TensorFlow.js encoder
 * (BERT or DistilBERT, model.safetensors), tokenised by `tokenizerFolder` (default the folder).
 */
export async function embedWithTensorflow(
  folder: string,
  pooling: Pooling,
  texts: readonly string[],
  options: { maxLength?: number; batchSize?: number; tokenizerFolder?: string } = {},
): Promise<Embeddings> {
  await loadTensorflow();
  const model = await readModelFolder(folder);
  const tokenizer = await loadTokenizer(options.tokenizerFolder ?? folder, options.maxLength ?? DEFAULT_MAX_LENGTH);
  return embedWithEncoder(model, pooling, tokenizer.tokenize(texts), options.batchSize ?? DEFAULT_BATCH_SIZE);
}

/** A model folder's embeddings: ONNX when the folder has what the embedder needs, else its safetensors on TensorFlow.js. */
async function embedWithModel(
  name: string,
  folder: string,
  pooling: Pooling,
  texts: readonly string[],
  options: TrainWithModelsOptions,
  tokenizerFallback: string,
): Promise<{ embeddings: Embeddings; engine: EmbeddingEngine }> {
  const onnx = (await Promise.all(REQUIRED_FILES.map((file) => exists(join(folder, file))))).every(Boolean);
  if (onnx) {
    const embedded = await embedTexts(texts, {
      model: name,
      modelsDir: options.modelsDir,
      pooling,
      maxLength: options.maxLength,
      batchSize: options.embedBatchSize,
      cache: options.cache,
      signal: options.signal,
      onProgress: ({ done, total }) => options.onEmbedProgress?.({ model: name, done, total }),
    });
    return { embeddings: embedded.embeddings, engine: 'onnx' };
  }
  if (!(await exists(join(folder, WEIGHTS_FILE)))) {
    throw new UserInputError(`model: ${name} has neither onnx/model.onnx (with config.json and the tokenizer) nor model.safetensors to embed with`, 'model');
  }
  const tokenizerFolder = (await exists(join(folder, 'tokenizer.json'))) ? folder : tokenizerFallback;
  options.onEmbedProgress?.({ model: name, done: 0, total: texts.length });
  const embeddings = await embedWithTensorflow(folder, pooling, texts, { maxLength: options.maxLength, batchSize: options.embedBatchSize, tokenizerFolder });
  options.onEmbedProgress?.({ model: name, done: texts.length, total: texts.length });
  return { embeddings, engine: 'tensorflow' };
}

/** The default task id: a Hub dataset's id, else the file's name without its extension. */
function defaultTaskId(dataset: TextDataset): string {
  return dataset.hub?.dataset ?? basename(dataset.path, extname(dataset.path));
}

export async function trainEsmWithModels(options: TrainWithModelsOptions): Promise<TrainedWithModels> {
  const root = options.modelsDir ?? defaultModelsDir();
  const folders = await Promise.all(
    [options.baseModel, options.tunedModel].map(async (name) => {
      if (options.pullMissing === false) return modelFolder(name, root);
      const { ensureModel } = await import('../embed/pull-model.js');
      const { folder, pulled } = await ensureModel(name, {
        modelsDir: root,
        hub: options.hub,
        onNote: options.onNote,
        onProgress: options.onDownload,
        signal: options.signal,
      });
      if (pulled) options.onNote?.(`pulled ${name} from the Hub (${pulled.record.repo}@${pulled.record.commit.slice(0, 12)})`);
      return folder;
    }),
  );
  const [baseFolder, tunedFolder] = folders;
  const dataset = await readTextDataset(options.dataset, options.datasetOptions);
  const { pooling } = await describeModel(options.baseModel, baseFolder, options.maxLength ?? DEFAULT_MAX_LENGTH);
  const base = await embedWithModel(options.baseModel, baseFolder, pooling, dataset.texts, options, baseFolder);
  const tuned = await embedWithModel(options.tunedModel, tunedFolder, pooling, dataset.texts, options, baseFolder);
  const { textColumns, labelColumn } = options.datasetOptions;
  const textColumn = typeof textColumns === 'string' || textColumns.length !== 1 ? textColumns : textColumns[0];
  const metadata: EsmMetadata = {
    task_id: defaultTaskId(dataset),
    task_subset: dataset.hub?.subset,
    task_split: dataset.hub?.split,
    text_column: textColumn as string | string[],
    label_column: labelColumn,
    ...Object.fromEntries(Object.entries(options.metadata ?? {}).filter(([, value]) => value !== undefined)),
    base_model_name: options.baseModel,
  };
  const { esm, report } = await trainEsm(base.embeddings, tuned.embeddings, metadata, options);
  return { esm, report, dataset, pooling, embeddings: { base: base.embeddings, tuned: tuned.embeddings }, engines: { base: base.engine, tuned: tuned.engine } };
}
