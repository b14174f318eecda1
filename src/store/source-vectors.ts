import { UserInputError } from '../errors.js';
import { describeSpace, type EmbeddingSpace } from '../io/embedding-space.js';
import { float32View } from '../io/embeddings.js';
import type { Registry } from './database.js';
import { sha256Hex } from './files.js';

/** A source task's TextEmb vector and where it came from. */
export interface SourceVectorInput extends EmbeddingSpace {
  readonly vector: Float32Array;
  /** How many texts were averaged, and the SHA-256 of their list (`textsSha256`). */
  readonly texts: number;
  readonly texts_sha256: string;
  readonly dataset_id?: number | null;
}

export interface SourceVectorRecord extends EmbeddingSpace {
  readonly identity: string;
  readonly dim: number;
  readonly texts: number;
  readonly texts_sha256: string;
  readonly dataset_id: number | null;
  readonly vector_sha256: string;
  readonly created_at: string;
}

/** A source vector as the HNSW index of its space takes it: the registry id as label, and the vector's checksum. */
export interface SourceVectorPoint {
  readonly label: number;
  readonly vector: Float32Array;
  readonly sha256: string;
}

function blob(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

/**
 * Records the TextEmb vector of the source tasks with these ESM identities (replacing what they had),
 * in one transaction. A space holds vectors of one dimension: a different one means the model under
 * that name changed, and is refused.
 */
export function putSourceVectors(registry: Registry, identities: readonly string[], input: SourceVectorInput): void {
  const dim = input.vector.length;
  registry.write(() => {
    const other = registry.db
      .prepare('SELECT dim FROM source_vectors WHERE model = ? AND pooling = ? AND dim != ? LIMIT 1')
      .pluck()
      .get(input.model, input.pooling, dim);
    if (other !== undefined) {
      throw new UserInputError(
        `model: ${describeSpace(input)} already has ${other}-dimensional source vectors, these have ${dim}; was the model folder replaced?`,
        'model',
      );
    }
    const put = registry.db.prepare(
      `INSERT INTO source_vectors (identity, model, pooling, dim, texts, texts_sha256, dataset_id, vector, vector_sha256)
       VALUES (@identity, @model, @pooling, @dim, @texts, @texts_sha256, @dataset_id, @vector, @vector_sha256)
       ON CONFLICT (identity) DO UPDATE SET model = excluded.model, pooling = excluded.pooling, dim = excluded.dim, texts = excluded.texts,
         texts_sha256 = excluded.texts_sha256, dataset_id = excluded.dataset_id, vector = excluded.vector, vector_sha256 = excluded.vector_sha256,
         created_at = excluded.created_at`,
    );
    const row = {
      model: input.model,
      pooling: input.pooling,
      dim,
      texts: input.texts,
      texts_sha256: input.texts_sha256,
      dataset_id: input.dataset_id ?? null,
      vector: blob(input.vector),
      vector_sha256: sha256Hex(blob(input.vector)),
    };
    for (const identity of identities) put.run({ ...row, identity });
  });
}

/** The vector records (without the vectors) of these registered ESMs, by registry id: one pass over the vectors, without their blobs. */
export function sourceVectorsOf(registry: Registry, ids: readonly number[]): Map<number, SourceVectorRecord> {
  const rows = registry.db
    .prepare(
      `SELECT st.id, sv.identity, sv.model, sv.pooling, sv.dim, sv.texts, sv.texts_sha256, sv.dataset_id, sv.vector_sha256, sv.created_at
       FROM esms st JOIN source_vectors sv ON sv.identity = st.identity`,
    )
    .all() as (SourceVectorRecord & { id: number })[];
  const wanted = new Set(ids);
  return new Map(rows.filter((row) => wanted.has(row.id)).map(({ id, ...record }) => [id, record]));
}

/** The spaces that registered ESMs have vectors in. */
export function sourceSpaces(registry: Registry): EmbeddingSpace[] {
  return registry.db
    .prepare('SELECT DISTINCT sv.model, sv.pooling FROM source_vectors sv JOIN esms st ON st.identity = sv.identity ORDER BY sv.model, sv.pooling')
    .all() as EmbeddingSpace[];
}

/** The spaces any source vector was ever recorded in (vectors outlive their ESMs, so this covers stale indexes too). */
export function recordedSpaces(registry: Registry): EmbeddingSpace[] {
  return registry.db.prepare('SELECT DISTINCT model, pooling FROM source_vectors ORDER BY model, pooling').all() as EmbeddingSpace[];
}

/** What the index of a space must hold: registry id → vector SHA-256, for every registered ESM with a vector there. */
export function spaceLabels(registry: Registry, space: EmbeddingSpace): Map<number, string> {
  const rows = registry.db
    .prepare('SELECT st.id, sv.vector_sha256 FROM source_vectors sv JOIN esms st ON st.identity = sv.identity WHERE sv.model = ? AND sv.pooling = ?')
    .raw()
    .all(space.model, space.pooling) as [number, string][];
  return new Map(rows);
}

/** The vectors of some registered ESMs of a space (all when `ids` is absent), read in id order. */
export function* spacePoints(registry: Registry, space: EmbeddingSpace, ids?: readonly number[]): Generator<SourceVectorPoint> {
  const rows = registry.db
    .prepare(
      'SELECT st.id, sv.vector, sv.vector_sha256 FROM source_vectors sv JOIN esms st ON st.identity = sv.identity WHERE sv.model = ? AND sv.pooling = ? ORDER BY st.id',
    )
    .raw()
    .iterate(space.model, space.pooling) as IterableIterator<[number, Buffer, string]>;
  const wanted = ids && new Set(ids);
  for (const [label, vector, sha256] of rows) if (!wanted || wanted.has(label)) yield { label, vector: float32View(vector), sha256 };
}

/** The dimension of a space's vectors (undefined when it has none). */
export function spaceDim(registry: Registry, space: EmbeddingSpace): number | undefined {
  return registry.db.prepare('SELECT dim FROM source_vectors WHERE model = ? AND pooling = ? LIMIT 1').pluck().get(space.model, space.pooling) as
    | number
    | undefined;
}
