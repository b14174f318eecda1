import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { dataDir } from '../config.js';
import { readEmbeddingFile, writeEmbeddingFile } from '../io/embedding-files.js';
import type { Embeddings } from '../io/embeddings.js';
import type { EmbeddingMeta } from './model-folder.js';

/**
 * Embeddings already computed, by key. Behind this interface so the registry (SQLite) can index
 * the entries later without changing callers.
 */
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
 * The cache key: model id + the model files' fingerprint + pooling + max length + the texts' hash.
 * The fingerprint makes a model folder replaced under the same name miss the cache instead of
 * returning the old model's vectors.
 */
export function embeddingCacheKey(meta: EmbeddingMeta, modelFingerprint: string, texts: readonly string[]): string {
  const parts = { model: meta.model, model_sha256: modelFingerprint, pooling: meta.pooling, max_length: meta.max_length, texts_sha256: textsSha256(texts) };
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/** The files that determine a model's vectors. */
const FINGERPRINTED = ['config.json', 'tokenizer.json', 'tokenizer_config.json', join('onnx', 'model.onnx'), join('onnx', 'model.onnx_data'), 'model.safetensors'];

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

/** The cache as files under the data directory: `<key>.f32` and its JSON sidecar, written atomically. */
export class FileEmbeddingCache implements EmbeddingCache {
  constructor(readonly dir: string = join(dataDir(), 'cache', 'embeddings')) {}

  private path(key: string): string {
    if (!/^[0-9a-f]{64}$/.test(key)) throw new Error(`embedding cache key must be a sha256 hex digest, got ${key}`);
    return join(this.dir, `${key}.f32`);
  }

  async get(key: string): Promise<Embeddings | undefined> {
    const path = this.path(key);
    if (!(await stat(`${path}.json`).catch(() => null))) return undefined;
    // An entry cut short by a crash between its two files reads as a miss and is written again.
    const file = await readEmbeddingFile(path).catch(() => undefined);
    return file?.meta?.cache_key === key ? file.embeddings : undefined;
  }

  async put(key: string, embeddings: Embeddings, meta: EmbeddingMeta): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeEmbeddingFile(this.path(key), embeddings, { ...meta, cache_key: key });
  }
}
