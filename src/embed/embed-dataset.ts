import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { modelsDir } from '../config.js';
import { type DatasetOptions, readTextDataset, type TextDataset } from '../dataset/text-dataset.js';
import type { Embeddings } from '../io/embeddings.js';
import { type EmbeddingCache, embeddingCacheKey, modelFingerprint } from './cache.js';
import { DEFAULT_MAX_LENGTH, type EmbedderOptions, type EmbedOptions, TextEmbedder } from './embedder.js';
import { describeModel, type EmbeddingMeta, modelFolder } from './model-folder.js';

export interface EmbedTextsOptions extends EmbedderOptions, EmbedOptions {
  /** A base model: a folder name under the models directory. */
  readonly model: string;
  /** Where computed embeddings are kept and looked up (e.g. the registry's); none when unset. */
  readonly cache?: EmbeddingCache;
}

export interface EmbedDatasetOptions extends DatasetOptions, EmbedTextsOptions {}

export interface EmbeddedTexts {
  readonly embeddings: Embeddings;
  /** Model, pooling, max length and hidden size: stored beside written embeddings. */
  readonly meta: EmbeddingMeta;
  /** The embeddings came from the cache; the model was not run. */
  readonly cached: boolean;
}

export interface EmbeddedDataset extends EmbeddedTexts {
  readonly dataset: TextDataset;
}

/**
 * Embeds texts with a base model as hfselect does. The cache is consulted before the model is
 * loaded, so embedding the same texts again costs a file read.
 */
export async function embedTexts(texts: readonly string[], options: EmbedTextsOptions): Promise<EmbeddedTexts> {
  const { cache } = options;
  const folder = modelFolder(options.model, options.modelsDir ?? modelsDir());
  let fingerprint: Promise<string> | undefined;
  const keyOf = async (meta: EmbeddingMeta) => embeddingCacheKey(meta, await (fingerprint ??= modelFingerprint(folder)), texts);

  // A model not downloaded yet (ESMSELECT_ALLOW_REMOTE=1) cannot have cached embeddings.
  if (cache && (await stat(join(folder, 'config.json')).catch(() => null))) {
    const meta = await describeModel(options.model, folder, options.maxLength ?? DEFAULT_MAX_LENGTH, options.pooling);
    const hit = await cache.get(await keyOf(meta));
    if (hit && hit.dim === meta.dim && hit.rows === texts.length) return { embeddings: hit, meta, cached: true };
  }
  const embedder = await TextEmbedder.load(options.model, options);
  try {
    const embeddings = await embedder.embed(texts, options);
    if (cache) await cache.put(await keyOf(embedder.meta), embeddings, embedder.meta);
    return { embeddings, meta: embedder.meta, cached: false };
  } finally {
    await embedder.dispose();
  }
}

/** Reads a dataset file (see `readTextDataset`) and embeds its texts (see `embedTexts`). */
export async function embedDataset(path: string, options: EmbedDatasetOptions): Promise<EmbeddedDataset> {
  const dataset = await readTextDataset(path, options);
  return { dataset, ...(await embedTexts(dataset.texts, options)) };
}
