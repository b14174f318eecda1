import { join } from 'node:path';
import { UserInputError } from '../errors.js';
import type { EmbeddingSpaceMap } from '../esm/esm.js';
import { EsmFormatError, esmConfigJson, esmFromFiles, esmWeightsFile, saveHfselectEsm } from '../esm/hfselect.js';
import type { EsmTrainingReport } from '../esm/train.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { RejectedEsm } from '../rank/ranking.js';
import { SKETCH_SHAPE, sketchEsm } from '../retrieval/esm-sketch.js';
import { updateSourceIndexes } from '../retrieval/source-index.js';
import type { Registry } from '../store/database.js';
import { type EsmSketch, hasEsmSketch, idsWithoutSketch, putEsmSketch } from '../store/esm-sketches.js';
import { deleteEsmRows, type EsmRecord, esmIdentity, findEsmByIdentity, getEsm, insertEsm, registrySource, removeUnreferencedWeights } from '../store/esms.js';
import { readVerifiedFile, sha256Hex, storedFileExists, storeFile, weightsPath } from '../store/files.js';

/**
 * The registry's services for one ESM over its SQL (src/store/esms.ts) and the first stage: register
 * (weights file + row + sketch), load, sketch, delete (row + file + index points) and export.
 */

export type RegisterOutcome =
  | { readonly status: 'imported'; readonly record: EsmRecord }
  /** Already registered; `restored` when its weights file was missing or corrupt and was written again. */
  | { readonly status: 'skipped'; readonly record: EsmRecord; readonly restored: boolean };

const WRITE_ATTEMPTS = 3;

export interface RegisterOptions {
  /** Runs inside the transaction that registers (or finds) the ESM: rows that must commit with it. */
  readonly withRecord?: (record: EsmRecord) => void;
  /** The canonical weights file, its SHA-256 and the sketch, computed already (in a worker thread). */
  readonly prepared?: { readonly weightsFile: Uint8Array; readonly sha256: string; readonly sketch: EsmSketch };
}

/**
 * Adds an ESM to the registry unless it is there already (same `esmIdentity`). The weights file is
 * complete and fsynced at its content address before the row that points at it is committed, so a
 * crash leaves at most a file no row uses (reported by `esmselect doctor`), never a row without
 * its file. Each ESM is its own transaction.
 */
export async function registerEsm(
  registry: Registry,
  esm: EmbeddingSpaceMap,
  provenance: { origin: string; training?: EsmTrainingReport },
  options: RegisterOptions = {},
): Promise<RegisterOutcome> {
  const { withRecord, prepared } = options;
  const config = esmConfigJson(esm);
  const weights = prepared?.weightsFile ?? esmWeightsFile(esm);
  const sha256 = prepared?.sha256 ?? sha256Hex(weights);
  const identity = esmIdentity(config, sha256);
  const relative = weightsPath(sha256);
  // The class-means first stage's summary of the weights, made once per weights file (outside the lock: rows·D² work).
  const sketch = hasEsmSketch(registry, sha256, SKETCH_SHAPE) ? null : (prepared?.sketch ?? sketchEsm(esm));
  for (let attempt = 1; attempt <= WRITE_ATTEMPTS; attempt++) {
    // Registered before its file was checked: writing the file then means it was missing or corrupt
    // (rather than a concurrent writer of the same new ESM having got there first).
    const registeredBefore = findEsmByIdentity(registry, identity) !== undefined;
    const wrote = await storeFile(registry.dataDir, relative, weights, sha256);
    const outcome = registry.write((): RegisterOutcome | null => {
      // Under the write lock: a delete or `doctor --cleanup` may have removed an unused file since.
      if (!storedFileExists(registry.dataDir, relative)) return null;
      if (sketch) putEsmSketch(registry, sha256, sketch);
      const existing = findEsmByIdentity(registry, identity);
      if (existing) {
        withRecord?.(existing);
        return { status: 'skipped', record: existing, restored: registeredBefore && wrote };
      }
      const record = insertEsm(registry, {
        identity,
        config,
        weights_path: relative,
        weights_sha256: sha256,
        weights_bytes: weights.byteLength,
        origin: provenance.origin,
        training: provenance.training,
      });
      withRecord?.(record);
      return { status: 'imported', record };
    });
    if (outcome) return outcome;
  }
  throw new Error(`${relative} was removed ${WRITE_ATTEMPTS} times while registering ${esm.taskId}`);
}

/**
 * The ESM of a record, read from its weights file after checking the file's SHA-256: a missing or
 * corrupt file throws EsmFormatError, so a damaged entry is refused, never used.
 */
export async function loadRegisteredEsm(registry: Registry, record: EsmRecord): Promise<EmbeddingSpaceMap> {
  const source = registrySource(record.id);
  const file = await readVerifiedFile(registry.dataDir, record.weights_path, record.weights_sha256);
  if ('problem' in file) throw new EsmFormatError(source, `${file.problem}; see esmselect doctor`);
  return esmFromFiles(source, JSON.stringify(record.config), file.bytes);
}

/**
 * Sketches the weights of registered ESMs that have no current sketch (registered before sketches
 * existed), for the class-means first stage. ESMs whose weights cannot be read are returned with
 * the reason; they stay unindexed for that stage.
 */
export async function sketchRegisteredEsms(
  registry: Registry,
  onProgress?: (progress: { done: number; total: number }) => void,
): Promise<{ sketched: number; rejected: RejectedEsm[] }> {
  const ids = idsWithoutSketch(registry, SKETCH_SHAPE);
  const rejected: RejectedEsm[] = [];
  let sketched = 0;
  for (const [i, id] of ids.entries()) {
    const record = getEsm(registry, id);
    if (!hasEsmSketch(registry, record.weights_sha256, SKETCH_SHAPE)) {
      try {
        const sketch = sketchEsm(await loadRegisteredEsm(registry, record));
        registry.write(() => putEsmSketch(registry, record.weights_sha256, sketch));
        sketched++;
      } catch (error) {
        if (!(error instanceof EsmFormatError)) throw error;
        rejected.push({ source: registrySource(id), problem: error.problem });
      }
    }
    onProgress?.({ done: i + 1, total: ids.length });
  }
  return { sketched, rejected };
}

/**
 * Deletes ESMs, rows and weights files together: the rows (and sketches no other row shares) in one
 * transaction (all or none; an unknown id deletes nothing), then each file no other row shares. A
 * crash between the two leaves an unused file for `doctor --cleanup`, never a row without its file.
 * Their points in the HNSW indexes are then marked deleted.
 */
export function deleteEsms(registry: Registry, ids: readonly number[]): EsmRecord[] {
  const records = deleteEsmRows(registry, ids);
  removeUnreferencedWeights(
    registry,
    records.map((r) => r.weights_path),
  );
  updateSourceIndexes(registry);
  return records;
}

/** hfselect keeps training details beside the ESM in train_info.json; so do we, with our report. */
export const TRAIN_INFO_FILE = 'train_info.json';

/**
 * Writes a registered ESM as an hfselect folder (config.json + model.safetensors, loadable with
 * `ESM.from_pretrained` and publishable), plus train_info.json for ESMs trained here.
 */
export async function exportEsm(registry: Registry, id: number, folder: string): Promise<EsmRecord> {
  const record = getEsm(registry, id);
  let esm: EmbeddingSpaceMap;
  try {
    esm = await loadRegisteredEsm(registry, record);
  } catch (error) {
    if (error instanceof EsmFormatError) throw new UserInputError(`esm: ${error.message}`, 'esm');
    throw error;
  }
  await saveHfselectEsm(esm, folder);
  if (record.training) await writeFileAtomic(join(folder, TRAIN_INFO_FILE), `${JSON.stringify(record.training, null, 2)}\n`);
  return record;
}
