import { float32View } from '../io/embeddings.js';
import type { Registry } from './database.js';

/**
 * What the class-means first stage keeps of an ESM instead of its D×D weights: S·W for a fixed
 * Gaussian S (rows × D, entries N(0, 1)), and ‖W‖²_F. A few KB to read per source instead of
 * megabytes, computed once when the ESM is registered (src/retrieval/esm-sketch.ts).
 */
export interface EsmSketch {
  readonly rows: number;
  readonly seed: number;
  readonly dim: number;
  readonly frobeniusSq: number;
  /** S·W, rows × dim, row-major. */
  readonly sketch: Float32Array;
}

/** Which sketches are current: those of this many rows and this seed (others are not comparable, and are made again). */
export interface SketchShape {
  readonly rows: number;
  readonly seed: number;
}

/** Whether the weights file with this SHA-256 has a sketch of the current shape. */
export function hasEsmSketch(registry: Registry, weightsSha256: string, shape: SketchShape): boolean {
  return (
    registry.db.prepare('SELECT 1 FROM esm_sketches WHERE weights_sha256 = ? AND rows = ? AND seed = ?').get(weightsSha256, shape.rows, shape.seed) !==
    undefined
  );
}

/** Records (or replaces) the sketch of a weights file; call it inside the transaction that registers the weights. */
export function putEsmSketch(registry: Registry, weightsSha256: string, sketch: EsmSketch): void {
  registry.db
    .prepare('INSERT OR REPLACE INTO esm_sketches (weights_sha256, rows, seed, dim, frobenius_sq, sketch) VALUES (?, ?, ?, ?, ?, ?)')
    .run(
      weightsSha256,
      sketch.rows,
      sketch.seed,
      sketch.dim,
      sketch.frobeniusSq,
      Buffer.from(sketch.sketch.buffer, sketch.sketch.byteOffset, sketch.sketch.byteLength),
    );
}

/** Drops the sketches no registered ESM uses any more; call it inside the transaction that deletes ESMs. */
export function dropUnusedEsmSketches(registry: Registry): void {
  registry.db.prepare('DELETE FROM esm_sketches WHERE weights_sha256 NOT IN (SELECT weights_sha256 FROM esms)').run();
}

/** The registry ids of ESMs whose weights have no current sketch (registered before sketches existed). */
export function idsWithoutSketch(registry: Registry, shape: SketchShape): number[] {
  return registry.db
    .prepare(
      'SELECT st.id FROM esms st LEFT JOIN esm_sketches sk ON sk.weights_sha256 = st.weights_sha256 AND sk.rows = ? AND sk.seed = ? WHERE sk.weights_sha256 IS NULL ORDER BY st.id',
    )
    .pluck()
    .all(shape.rows, shape.seed) as number[];
}

/** The current sketches of registered ESMs of dimension `dim`, by registry id, streamed. */
export function* registeredSketches(registry: Registry, shape: SketchShape, dim: number): Generator<{ readonly id: number; readonly sketch: EsmSketch }> {
  const rows = registry.db
    .prepare(
      `SELECT st.id, sk.frobenius_sq, sk.sketch FROM esms st JOIN esm_sketches sk ON sk.weights_sha256 = st.weights_sha256
       WHERE sk.rows = ? AND sk.seed = ? AND sk.dim = ?`,
    )
    .raw()
    .iterate(shape.rows, shape.seed, dim) as IterableIterator<[number, number, Buffer]>;
  for (const [id, frobeniusSq, bytes] of rows) {
    yield { id, sketch: { ...shape, dim, frobeniusSq, sketch: float32View(bytes) } };
  }
}
