import { join } from 'node:path';
import type { EmbeddingCache } from '../embed/cache.js';
import type { EmbeddingMeta } from '../embed/model-folder.js';
import type { Embeddings } from '../io/embeddings.js';
import type { Registry } from './database.js';
import { readVerifiedFile, sha256Hex, storeFile } from './files.js';

/** Where cached embeddings live, relative to the data dir. */
export const EMBEDDING_CACHE_DIR = join('cache', 'embeddings');

/**
 * The registry's record of one embedding-cache file: the embedder writes the file (atomically)
 * under the data dir, then records it here with its SHA-256; a lookup hands back the path and
 * checksum to verify with `readVerifiedFile` before use.
 */
export interface EmbeddingCacheEntry {
  readonly key: string;
  readonly dataset_id: number | null;
  readonly model: string;
  readonly pooling: string | null;
  readonly rows: number;
  readonly dim: number;
  /** Relative to the data dir. */
  readonly path: string;
  readonly sha256: string;
  readonly bytes: number;
  /** What else the embedder wants kept with the entry (max length, model fingerprint, …). */
  readonly meta: Record<string, unknown> | null;
  readonly created_at: string;
  readonly last_used_at: string;
}

export type EmbeddingCacheEntryInput = Omit<EmbeddingCacheEntry, 'created_at' | 'last_used_at' | 'dataset_id' | 'pooling' | 'meta'> & {
  readonly dataset_id?: number | null;
  readonly pooling?: string | null;
  readonly meta?: Record<string, unknown> | null;
};

type Row = Omit<EmbeddingCacheEntry, 'meta'> & { meta: string | null };

function toEntry(row: Row): EmbeddingCacheEntry {
  return { ...row, meta: row.meta === null ? null : (JSON.parse(row.meta) as Record<string, unknown>) };
}

function selectEntry(registry: Registry, key: string): EmbeddingCacheEntry | undefined {
  const row = registry.db.prepare('SELECT * FROM embedding_cache WHERE key = ?').get(key) as Row | undefined;
  return row && toEntry(row);
}

/** Records (or replaces) the entry for a key, after its file is durably written. */
export function putEmbeddingCacheEntry(registry: Registry, entry: EmbeddingCacheEntryInput): EmbeddingCacheEntry {
  return registry.write(() => {
    registry.db
      .prepare(
        `INSERT INTO embedding_cache (key, dataset_id, model, pooling, rows, dim, path, sha256, bytes, meta)
         VALUES (@key, @dataset_id, @model, @pooling, @rows, @dim, @path, @sha256, @bytes, @meta)
         ON CONFLICT (key) DO UPDATE SET dataset_id = excluded.dataset_id, model = excluded.model, pooling = excluded.pooling,
           rows = excluded.rows, dim = excluded.dim, path = excluded.path, sha256 = excluded.sha256, bytes = excluded.bytes,
           meta = excluded.meta, created_at = excluded.created_at, last_used_at = excluded.last_used_at`,
      )
      .run({ ...entry, dataset_id: entry.dataset_id ?? null, pooling: entry.pooling ?? null, meta: entry.meta == null ? null : JSON.stringify(entry.meta) });
    return selectEntry(registry, entry.key)!;
  });
}

/** The entry for a key, marked as used now; undefined on a miss. */
export function getEmbeddingCacheEntry(registry: Registry, key: string): EmbeddingCacheEntry | undefined {
  return registry.write(() => {
    registry.db.prepare("UPDATE embedding_cache SET last_used_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE key = ?").run(key);
    return selectEntry(registry, key);
  });
}

/** Forgets a key (its file failed verification, or it is evicted); says whether there was one. */
export function deleteEmbeddingCacheEntry(registry: Registry, key: string): boolean {
  return registry.write(() => registry.db.prepare('DELETE FROM embedding_cache WHERE key = ?').run(key).changes > 0);
}

export function listEmbeddingCacheEntries(registry: Registry, filter: { datasetId?: number; model?: string } = {}): EmbeddingCacheEntry[] {
  const rows = registry.db
    .prepare('SELECT * FROM embedding_cache WHERE (@dataset_id IS NULL OR dataset_id = @dataset_id) AND (@model IS NULL OR model = @model) ORDER BY key')
    .all({ dataset_id: filter.datasetId ?? null, model: filter.model ?? null }) as Row[];
  return rows.map(toEntry);
}

/**
 * The embedding cache as registry entries: the vectors as raw float32 under the data dir (written
 * atomically before their row), looked up by key and verified against their checksum on every read;
 * an entry whose file is missing or corrupt is dropped and reads as a miss.
 */
export class RegistryEmbeddingCache implements EmbeddingCache {
  constructor(private readonly registry: Registry) {}

  async get(key: string): Promise<Embeddings | undefined> {
    const entry = getEmbeddingCacheEntry(this.registry, key);
    if (!entry) return undefined;
    const file = await readVerifiedFile(this.registry.dataDir, entry.path, entry.sha256);
    if ('problem' in file || file.bytes.byteLength !== entry.rows * entry.dim * 4) {
      deleteEmbeddingCacheEntry(this.registry, key);
      return undefined;
    }
    // A copy, so the Float32Array is aligned whatever the file buffer's offset.
    const data = new Float32Array(entry.rows * entry.dim);
    new Uint8Array(data.buffer).set(file.bytes);
    return { rows: entry.rows, dim: entry.dim, data };
  }

  async put(key: string, embeddings: Embeddings, meta: EmbeddingMeta): Promise<void> {
    if (!/^[0-9a-f]{64}$/.test(key)) throw new Error(`embedding cache key must be a sha256 hex digest, got ${key}`);
    const bytes = new Uint8Array(embeddings.data.buffer, embeddings.data.byteOffset, embeddings.data.byteLength);
    const sha256 = sha256Hex(bytes);
    const path = join(EMBEDDING_CACHE_DIR, `${key}.f32`);
    await storeFile(this.registry.dataDir, path, bytes, sha256);
    putEmbeddingCacheEntry(this.registry, {
      key,
      model: meta.model,
      pooling: meta.pooling,
      rows: embeddings.rows,
      dim: embeddings.dim,
      path,
      sha256,
      bytes: bytes.byteLength,
      meta: { max_length: meta.max_length },
    });
  }
}
