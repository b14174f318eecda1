import { SKETCH_ROWS, SKETCH_SEED, type EsmSketch } from '../index/esm-sketch.js';
import { float32View } from '../io/embeddings.js';
import type { Registry } from './database.js';

/** Whether the weights file with this SHA-256 has a sketch of the current shape (rows, seed). */
export function hasEsmSketch(registry: Registry, weightsSha256: string): boolean {
  return registry.db.prepare('SELECT 1 FROM esm_sketches WHERE weights_sha256 = ? AND rows = ? AND seed = ?').get(weightsSha256, SKETCH_ROWS, SKETCH_SEED) !== undefined;
}

/** Records (or replaces) the sketch of a weights file; call it inside the transaction that registers the weights. */
export function putEsmSketch(registry: Registry, weightsSha256: string, sketch: EsmSketch): void {
  registry.db
    .prepare('INSERT OR REPLACE INTO esm_sketches (weights_sha256, rows, seed, dim, frobenius_sq, sketch) VALUES (?, ?, ?, ?, ?, ?)')
    .run(weightsSha256, sketch.rows, sketch.seed, sketch.dim, sketch.frobeniusSq, Buffer.from(sketch.sketch.buffer, sketch.sketch.byteOffset, sketch.sketch.byteLength));
}

/** Drops the sketches no registered ESM uses any more; call it inside the transaction that deletes ESMs. */
export function dropUnusedEsmSketches(registry: Registry): void {
  registry.db.prepare('DELETE FROM esm_sketches WHERE weights_sha256 NOT IN (SELECT weights_sha256 FROM source_tasks)').run();
}

/** The registry ids of ESMs whose weights have no current sketch (registered before sketches existed). */
export function idsWithoutSketch(registry: Registry): number[] {
  return registry.db
    .prepare('SELECT st.id FROM source_tasks st LEFT JOIN esm_sketches sk ON sk.weights_sha256 = st.weights_sha256 AND sk.rows = ? AND sk.seed = ? WHERE sk.weights_sha256 IS NULL ORDER BY st.id')
    .pluck()
    .all(SKETCH_ROWS, SKETCH_SEED) as number[];
}

/** The current sketches of registered ESMs of dimension `dim`, by registry id, streamed. */
export function* registeredSketches(registry: Registry, dim: number): Generator<{ readonly id: number; readonly sketch: EsmSketch }> {
  const rows = registry.db
    .prepare(
      `SELECT st.id, sk.frobenius_sq, sk.sketch FROM source_tasks st JOIN esm_sketches sk ON sk.weights_sha256 = st.weights_sha256
       WHERE sk.rows = ? AND sk.seed = ? AND sk.dim = ?`,
    )
    .raw()
    .iterate(SKETCH_ROWS, SKETCH_SEED, dim) as IterableIterator<[number, number, Buffer]>;
  for (const [id, frobeniusSq, bytes] of rows) {
    yield { id, sketch: { rows: SKETCH_ROWS, seed: SKETCH_SEED, dim, frobeniusSq, sketch: float32View(bytes) } };
  }
}
