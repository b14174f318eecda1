import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Embeddings } from '../io/embeddings.js';
import type { EmbeddingMeta } from './model-folder.js';
import { TRUNCATION_RULE } from './truncation.js';

/** Embeddings already computed, by key (the registry implements it: RegistryEmbeddingCache). */
export interface EmbeddingCache {
  get(key: string): Promise<Embeddings | undefined>;
  put(key: string, embeddings: Embeddings, meta: EmbeddingMeta): Promise<void>;
}

/** sha256 of the texts, each framed by its UTF-8 byte length so that no two lists collide. */
export function textsSha256(texts: readonly string[]): string {
  const hash = createHash('sha256');
  for (const text of texts) {
    hash.update(`${Buffer.byteLength(text)}:`);
    hash.update(text);
  }
  return hash.digest('hex');
}

/**
 * The cache key: model id + the model files' fingerprint + pooling + max length + the truncation
 * rule + the texts' hash. The fingerprint makes a model folder replaced under the same name miss
 * the cache instead of returning the old model's vectors; the rule does the same for vectors
 * embedded before texts were truncated as Hugging Face truncates them (TRUNCATION_RULE).
 */
export function embeddingCacheKey(meta: EmbeddingMeta, modelFingerprint: string, texts: readonly string[]): string {
  const parts = {
    model: meta.model,
    model_sha256: modelFingerprint,
    pooling: meta.pooling,
    max_length: meta.max_length,
    truncation: TRUNCATION_RULE,
    texts_sha256: textsSha256(texts),
  };
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/** The files that determine a model's vectors. */
const FINGERPRINTED = [
  'config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  join('onnx', 'model.onnx'),
  join('onnx', 'model.onnx_data'),
  'model.safetensors',
  'pooler.safetensors',
];

/** sha256 over the model's files (a 700 MB ONNX hashes in about a second). */
export async function modelFingerprint(folder: string): Promise<string> {
  const hash = createHash('sha256');
  for (const file of FINGERPRINTED) {
    const path = join(folder, file);
    if (!(await stat(path).catch(() => null))) continue;
    hash.update(`${file}\0`);
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}
