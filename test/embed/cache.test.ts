import { createHash } from 'node:crypto';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddingCache, embeddingCacheKey, modelFingerprint, textsSha256 } from '../../src/embed/cache.js';
import { embedDataset } from '../../src/embed/embed-dataset.js';
import type { EmbeddingMeta } from '../../src/embed/model-folder.js';
import type { Embeddings } from '../../src/io/embeddings.js';
import { openRegistry } from '../../src/store/database.js';
import { getEmbeddingCacheEntry, RegistryEmbeddingCache } from '../../src/store/embedding-cache.js';
import { randomGenerator } from '../helpers/random.js';

const MODELS = fileURLToPath(new URL('../../models/', import.meta.url));
const REVIEWS = fileURLToPath(new URL('../fixtures/datasets/reviews.csv', import.meta.url));
const META: EmbeddingMeta = { model: 'tiny-bert', pooling: 'pooler_output', max_length: 128, dim: 32 };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'esmselect-cache-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Counts what reaches the cache, to see whether the model ran. */
class CountingCache implements EmbeddingCache {
  gets = 0;
  puts = 0;
  constructor(private readonly inner: EmbeddingCache) {}
  get(key: string) {
    this.gets++;
    return this.inner.get(key);
  }
  put(key: string, embeddings: Embeddings, meta: EmbeddingMeta) {
    this.puts++;
    return this.inner.put(key, embeddings, meta);
  }
}

describe('embedding cache', () => {
  it('keys on the model, its files, the pooling, the max length, the truncation rule and every text', () => {
    const texts = ['a good film', 'a bad one'];
    const key = embeddingCacheKey(META, 'f1', texts);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(embeddingCacheKey(META, 'f1', [...texts])).toBe(key);
    for (const other of [
      embeddingCacheKey({ ...META, model: 'tiny-distilbert' }, 'f1', texts),
      embeddingCacheKey(META, 'f2', texts),
      embeddingCacheKey({ ...META, pooling: 'mean' }, 'f1', texts),
      embeddingCacheKey({ ...META, max_length: 64 }, 'f1', texts),
      embeddingCacheKey(META, 'f1', ['a good film', 'a bad one ']),
      embeddingCacheKey(META, 'f1', [texts[1], texts[0]]),
    ]) {
      expect(other).not.toBe(key);
    }
    // Vectors cached before long texts kept their final [SEP] (the key had no truncation rule) miss.
    const before = { model: META.model, model_sha256: 'f1', pooling: META.pooling, max_length: META.max_length, texts_sha256: textsSha256(texts) };
    expect(key).not.toBe(createHash('sha256').update(JSON.stringify(before)).digest('hex'));
    // Framed by length: moving a boundary between texts changes the hash.
    expect(textsSha256(['ab', 'c'])).not.toBe(textsSha256(['a', 'bc']));
  });

  it('round-trips embeddings through the registry, and a corrupt or missing file reads as a miss', async () => {
    const registry = openRegistry({ dataDir: join(dir, 'registry') });
    try {
      const cache = new RegistryEmbeddingCache(registry);
      const embeddings = { rows: 3, dim: 4, data: randomGenerator(5).normals(12) };
      const key = embeddingCacheKey(META, 'f', ['x', 'y', 'z']);
      expect(await cache.get(key)).toBeUndefined();
      await cache.put(key, embeddings, META);
      expect(await cache.get(key)).toEqual(embeddings);
      expect(await cache.get(embeddingCacheKey(META, 'f', ['x']))).toBeUndefined();
      const entry = getEmbeddingCacheEntry(registry, key)!;
      expect(entry).toMatchObject({ model: META.model, pooling: META.pooling, rows: 3, dim: 4, bytes: 48 });
      await writeFile(registry.resolve(entry.path), new Uint8Array(48));
      expect(await cache.get(key)).toBeUndefined();
      expect(getEmbeddingCacheEntry(registry, key)).toBeUndefined();
      await expect(cache.put('../../etc/passwd', embeddings, META)).rejects.toThrow(/sha256/);
    } finally {
      registry.close();
    }
  });

  it('fingerprints the model files, so a replaced model misses', async () => {
    const copy = join(dir, 'models', 'tiny-bert');
    await cp(join(MODELS, 'tiny-bert'), copy, { recursive: true });
    const before = await modelFingerprint(copy);
    expect(await modelFingerprint(join(MODELS, 'tiny-bert'))).toBe(before);
    await writeFile(join(copy, 'config.json'), '{"model_type": "bert", "hidden_size": 32}');
    expect(await modelFingerprint(copy)).not.toBe(before);
  });

  it('a second embedding of the same dataset comes from the cache without running the model', async () => {
    const registry = openRegistry({ dataDir: join(dir, 'datasets') });
    const cache = new CountingCache(new RegistryEmbeddingCache(registry));
    const options = { textColumns: ['title', 'text'], labelColumn: 'label', model: 'tiny-distilbert', modelsDir: MODELS, cache };
    const first = await embedDataset(REVIEWS, options);
    expect([first.cached, cache.gets, cache.puts]).toEqual([false, 1, 1]);
    const second = await embedDataset(REVIEWS, options);
    expect([second.cached, cache.gets, cache.puts]).toEqual([true, 2, 1]);
    expect(second.embeddings).toEqual(first.embeddings);
    expect(second.meta).toEqual(first.meta);
    const sampled = await embedDataset(REVIEWS, { ...options, numExamples: 5 });
    expect([sampled.cached, sampled.embeddings.rows, cache.puts]).toEqual([false, 5, 2]);
    // The sample's vectors are the full run's rows: embedding does not depend on the batch.
    sampled.dataset.rows.forEach((row, i) => {
      const a = sampled.embeddings.data.subarray(i * 32, (i + 1) * 32);
      const b = first.embeddings.data.subarray((row - 1) * 32, row * 32);
      a.forEach((v, k) => expect(Math.abs(v - b[k])).toBeLessThan(1e-5));
    });
    registry.close();
  });
});
