import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { UserInputError } from '../errors.js';
import type { EsmConfig } from '../esm/config.js';
import type { EmbeddingSpaceMap } from '../esm/esm.js';
import { esmConfigJson, esmFromFiles, EsmFormatError, esmWeightsFile, saveHfselectEsm } from '../esm/hfselect.js';
import type { EsmPool, PoolEntry } from '../esm/pool.js';
import type { EsmTrainingReport } from '../esm/train.js';
import { SKETCH_SHAPE, sketchEsm } from '../retrieval/esm-sketch.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { RejectedEsm } from '../rank/ranking.js';
import type { RetrievablePool } from '../rank/two-stage.js';
import type { Registry } from './database.js';
import { dropUnusedEsmSketches, hasEsmSketch, idsWithoutSketch, putEsmSketch, type EsmSketch } from './esm-sketches.js';
import { readVerifiedFile, sha256Hex, storedFileExists, storeFile, weightsPath } from './files.js';
import { retrieveFromRegistry } from '../retrieval/first-stage.js';
import { updateSourceIndexes } from '../retrieval/source-index.js';

/** One registered ESM; field names follow hfselect's ESMConfig and the `source_tasks` columns. */
export interface EsmRecord {
  readonly id: number;
  /** SHA-256 of the canonical config and weights (`esmIdentity`): equal identity, same ESM. */
  readonly identity: string;
  readonly task_id: string;
  readonly task_subset: string | null;
  readonly task_split: string | null;
  readonly text_column: string | string[] | null;
  readonly label_column: string | null;
  readonly language: string | null;
  readonly num_examples: number | null;
  readonly base_model_name: string;
  readonly pooling: string | null;
  readonly esm_architecture: string;
  readonly esm_embedding_dim: number;
  readonly config: EsmConfig;
  /** Relative to the data dir. */
  readonly weights_path: string;
  readonly weights_sha256: string;
  readonly weights_bytes: number;
  /** The folder it was imported from, or `trained`. */
  readonly origin: string;
  /** The training report, for ESMs trained here. */
  readonly training: EsmTrainingReport | null;
  readonly created_at: string;
}

/** Selects ESMs for `list` and for ranking; every given field must match. */
export interface EsmFilter {
  readonly baseModel?: string;
  /** Case-insensitive. */
  readonly language?: string;
  /** A case-insensitive substring of the task id. */
  readonly task?: string;
  readonly architecture?: string;
  readonly dim?: number;
  /**
   * Only ESMs pulled from Hub repos tagged `base_model:<this>` (the base model's current name on the
   * Hub): the pool hfselect's `find_esm_repo_ids` finds for it.
   */
  readonly hubBaseModel?: string;
  /** Only ESMs pulled from these Hub repos (hfselect's `esm_repo_ids`). */
  readonly hubRepos?: readonly string[];
}

type Row = Omit<EsmRecord, 'text_column' | 'config' | 'training'> & { text_column: string | null; config: string; training: string | null };

function toRecord(row: Row): EsmRecord {
  return {
    ...row,
    text_column: row.text_column === null ? null : (JSON.parse(row.text_column) as string | string[]),
    config: JSON.parse(row.config) as EsmConfig,
    training: row.training === null ? null : (JSON.parse(row.training) as EsmTrainingReport),
  };
}

/**
 * What makes two ESMs the same: the SHA-256 of `esmselect-esm-v1`, the SHA-256 of the canonical
 * weights file and the canonical config.json, newline-separated. Canonical means as esmselect
 * exports them (`esmWeightsFile`: F32 `model.weight`/`model.bias`; `esmConfigJson`: sorted keys, a
 * legacy 0.1.0 version read as 0.2.0), so a legacy or an F16 folder of the same map (F16 values are
 * exact in F32) and our own export of it are recognised as one ESM; any change of a weight or of a
 * config field makes another.
 */
export function esmIdentity(canonicalConfig: string, weightsSha256: string): string {
  return sha256Hex(`esmselect-esm-v1\n${weightsSha256}\n${canonicalConfig}`);
}

/** How ranking results and messages name a registered ESM. */
export function registrySource(id: number): string {
  return `registry#${id}`;
}

export function parseRegistrySource(source: string): number | null {
  const match = /^registry#(\d+)$/.exec(source);
  return match ? Number(match[1]) : null;
}

export type RegisterOutcome =
  | { readonly status: 'imported'; readonly record: EsmRecord }
  /** Already registered; `restored` when its weights file was missing or corrupt and was written again. */
  | { readonly status: 'skipped'; readonly record: EsmRecord; readonly restored: boolean };

const WRITE_ATTEMPTS = 3;

function selectRow(registry: Registry, id: number): Row | undefined {
  return registry.db.prepare('SELECT * FROM source_tasks WHERE id = ?').get(id) as Row | undefined;
}

function optionalString(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

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
export async function registerEsm(registry: Registry, esm: EmbeddingSpaceMap, provenance: { origin: string; training?: EsmTrainingReport }, options: RegisterOptions = {}): Promise<RegisterOutcome> {
  const { withRecord, prepared } = options;
  const config = esmConfigJson(esm);
  const weights = prepared?.weightsFile ?? esmWeightsFile(esm);
  const sha256 = prepared?.sha256 ?? sha256Hex(weights);
  const identity = esmIdentity(config, sha256);
  const relative = weightsPath(sha256);
  const canonical = JSON.parse(config) as EsmConfig;
  // The class-means first stage's summary of the weights, made once per weights file (outside the lock: rows·D² work).
  const sketch = hasEsmSketch(registry, sha256, SKETCH_SHAPE) ? null : (prepared?.sketch ?? sketchEsm(esm));
  const selectIdentity = registry.db.prepare('SELECT * FROM source_tasks WHERE identity = ?');
  for (let attempt = 1; attempt <= WRITE_ATTEMPTS; attempt++) {
    // Registered before its file was checked: writing the file then means it was missing or corrupt
    // (rather than a concurrent writer of the same new ESM having got there first).
    const registeredBefore = selectIdentity.get(identity) !== undefined;
    const wrote = await storeFile(registry.dataDir, relative, weights, sha256);
    const outcome = registry.write((): RegisterOutcome | null => {
      // Under the write lock: a delete or `doctor --cleanup` may have removed an unused file since.
      if (!storedFileExists(registry.dataDir, relative)) return null;
      if (sketch) putEsmSketch(registry, sha256, sketch);
      const existing = selectIdentity.get(identity) as Row | undefined;
      if (existing) {
        const record = toRecord(existing);
        withRecord?.(record);
        return { status: 'skipped', record, restored: registeredBefore && wrote };
      }
      const { lastInsertRowid } = registry.db
        .prepare(
          `INSERT INTO source_tasks (identity, task_id, task_subset, task_split, text_column, label_column, language, num_examples,
             base_model_name, pooling, esm_architecture, esm_embedding_dim, config, weights_path, weights_sha256, weights_bytes, origin, training)
           VALUES (@identity, @task_id, @task_subset, @task_split, @text_column, @label_column, @language, @num_examples,
             @base_model_name, @pooling, @esm_architecture, @esm_embedding_dim, @config, @weights_path, @weights_sha256, @weights_bytes, @origin, @training)`,
        )
        .run({
          identity,
          task_id: canonical.task_id,
          task_subset: canonical.task_subset ?? null,
          task_split: canonical.task_split ?? null,
          text_column: canonical.text_column == null ? null : JSON.stringify(canonical.text_column),
          label_column: canonical.label_column ?? null,
          language: canonical.language ?? null,
          num_examples: Number.isSafeInteger(canonical.num_examples) ? canonical.num_examples : null,
          base_model_name: canonical.base_model_name,
          pooling: optionalString(canonical.pooling),
          esm_architecture: canonical.esm_architecture,
          esm_embedding_dim: canonical.esm_embedding_dim,
          config,
          weights_path: relative,
          weights_sha256: sha256,
          weights_bytes: weights.byteLength,
          origin: provenance.origin,
          training: provenance.training ? JSON.stringify(provenance.training) : null,
        });
      const record = toRecord(selectRow(registry, Number(lastInsertRowid))!);
      withRecord?.(record);
      return { status: 'imported', record };
    });
    if (outcome) return outcome;
  }
  throw new Error(`${relative} was removed ${WRITE_ATTEMPTS} times while registering ${esm.taskId}`);
}

function filterClause(filter: EsmFilter): { where: string; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const add = (condition: string, value: unknown) => {
    conditions.push(condition);
    params.push(value);
  };
  if (filter.baseModel !== undefined) add('base_model_name = ?', filter.baseModel);
  if (filter.language !== undefined) add('lower(language) = lower(?)', filter.language);
  if (filter.task !== undefined) add('instr(lower(task_id), lower(?)) > 0', filter.task);
  if (filter.architecture !== undefined) add('esm_architecture = ?', filter.architecture);
  if (filter.dim !== undefined) add('esm_embedding_dim = ?', filter.dim);
  if (filter.hubBaseModel !== undefined) {
    add("id IN (SELECT h.source_task_id FROM hub_sources h, json_each(h.tags) t WHERE t.value = 'base_model:' || ?)", filter.hubBaseModel);
  }
  if (filter.hubRepos !== undefined) add('id IN (SELECT source_task_id FROM hub_sources WHERE repo_id IN (SELECT value FROM json_each(?)))', JSON.stringify(filter.hubRepos));
  return { where: conditions.length ? `WHERE ${conditions.join(' AND ')}` : '', params };
}

export function listEsms(registry: Registry, filter: EsmFilter = {}): EsmRecord[] {
  const { where, params } = filterClause(filter);
  return (registry.db.prepare(`SELECT * FROM source_tasks ${where} ORDER BY id`).all(...params) as Row[]).map(toRecord);
}

/** One page of `listEsms`, in id order, with the number of ESMs matching the filter. */
export function pageEsms(registry: Registry, filter: EsmFilter, page: { limit: number; offset: number }): { total: number; records: EsmRecord[] } {
  const { where, params } = filterClause(filter);
  const total = registry.db.prepare(`SELECT count(*) FROM source_tasks ${where}`).pluck().get(...params) as number;
  const rows = registry.db.prepare(`SELECT * FROM source_tasks ${where} ORDER BY id LIMIT ? OFFSET ?`).all(...params, page.limit, page.offset) as Row[];
  return { total, records: rows.map(toRecord) };
}

/** The ids matching a filter, without their configs: what a pool of any size can hold in memory. */
export function listEsmIds(registry: Registry, filter: EsmFilter = {}): number[] {
  const { where, params } = filterClause(filter);
  return registry.db.prepare(`SELECT id FROM source_tasks ${where} ORDER BY id`).pluck().all(...params) as number[];
}

/** The registered ESM with this identity (`esmIdentity`: the same ESM in any registry), if there is one. */
export function findEsmByIdentity(registry: Registry, identity: string): EsmRecord | undefined {
  const row = registry.db.prepare('SELECT * FROM source_tasks WHERE identity = ?').get(identity) as Row | undefined;
  return row && toRecord(row);
}

export function getEsm(registry: Registry, id: number): EsmRecord {
  const row = selectRow(registry, id);
  if (!row) throw new UserInputError(`esm: there is no ESM #${id} in the registry`, 'esm');
  return toRecord(row);
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

/** Registered ESMs by id as a pool, read one at a time; missing or corrupt ones come out rejected. */
function idsPool(registry: Registry, ids: readonly number[]): EsmPool {
  return {
    total: ids.length,
    async *entries(): AsyncGenerator<PoolEntry> {
      for (const id of ids) {
        const source = registrySource(id);
        const row = selectRow(registry, id);
        if (!row) {
          yield { source, problem: 'deleted from the registry while ranking' };
          continue;
        }
        try {
          yield { source, esm: await loadRegisteredEsm(registry, toRecord(row)) };
        } catch (error) {
          if (!(error instanceof EsmFormatError)) throw error;
          yield { source, problem: error.problem };
        }
      }
    },
  };
}

/**
 * The registered ESMs matching `filter` as a pool for ranking, read one at a time. Entries whose
 * weights are missing or fail their checksum come out as rejected, with the reason. A first stage
 * (TextEmb through the HNSW index, or ESM class means) can pre-select its members for two-stage ranking.
 */
export function registryPool(registry: Registry, filter: EsmFilter = {}): RetrievablePool {
  const ids = listEsmIds(registry, filter);
  return {
    ...idsPool(registry, ids),
    async retrieve(query) {
      const found = retrieveFromRegistry(registry, ids, query);
      return {
        candidates: found.candidates.map(({ id, similarity }) => ({ source: registrySource(id), similarity })),
        indexed: found.indexed,
        unindexed: found.unindexed.map(registrySource),
        notes: found.notes,
      };
    },
    subset(sources) {
      return idsPool(
        registry,
        sources.map((source) => {
          const id = parseRegistrySource(source);
          if (id === null) throw new Error(`${source} is not a registry source`);
          return id;
        }),
      );
    },
  };
}

/**
 * Sketches the weights of registered ESMs that have no current sketch (registered before sketches
 * existed), for the class-means first stage. ESMs whose weights cannot be read are returned with
 * the reason; they stay unindexed for that stage.
 */
export async function sketchRegisteredEsms(registry: Registry, onProgress?: (progress: { done: number; total: number }) => void): Promise<{ sketched: number; rejected: RejectedEsm[] }> {
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
 * Removes the given weights files that no row points at, under the write lock, so that a writer
 * registering the same content either commits first (and the file stays) or finds it gone and
 * writes it again. Returns the paths removed.
 */
export function removeUnreferencedWeights(registry: Registry, paths: readonly string[]): string[] {
  return registry.write(() => {
    const used = registry.db.prepare('SELECT 1 FROM source_tasks WHERE weights_path = ? LIMIT 1').pluck();
    return [...new Set(paths)].filter((relative) => {
      if (used.get(relative)) return false;
      try {
        unlinkSync(registry.resolve(relative));
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw error;
      }
    });
  });
}

/**
 * Deletes ESMs, rows and weights files together: the rows (and sketches no other row shares) in one
 * transaction (all or none; an unknown id deletes nothing), then each file no other row shares. A
 * crash between the two leaves an unused file for `doctor --cleanup`, never a row without its file.
 * Their points in the HNSW indexes are then marked deleted.
 */
export function deleteEsms(registry: Registry, ids: readonly number[]): EsmRecord[] {
  const records = registry.write(() => {
    const found = ids.map((id) => getEsm(registry, id));
    const remove = registry.db.prepare('DELETE FROM source_tasks WHERE id = ?');
    for (const { id } of found) remove.run(id);
    dropUnusedEsmSketches(registry);
    return found;
  });
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
