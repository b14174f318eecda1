import { unlinkSync } from 'node:fs';
import { UserInputError } from '../errors.js';
import type { EsmConfig } from '../esm/config.js';
import type { EsmFilter } from '../esm/filter.js';
import type { EsmTrainingReport } from '../esm/train.js';
import type { Registry } from './database.js';
import { dropUnusedEsmSketches } from './esm-sketches.js';
import { sha256Hex } from './files.js';

/**
 * The SQL of registered ESMs (the `esms` table). Registering one (weights file, row, sketch,
 * index), loading, deleting and exporting it are the registry's services (src/registry/esms.ts).
 */

/** One registered ESM; field names follow hfselect's ESMConfig and the `esms` columns. */
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

/**
 * Selects ESMs for `list` and for ranking; every given field must match. The fields are hfselect's
 * ESMConfig names, as the HTTP API has them.
 */
export type { EsmFilter };

/** The camelCase names an EsmFilter had before, as ranking runs recorded them: read as the names above. */
const FORMER_FILTER_NAMES: Readonly<Record<string, keyof EsmFilter>> = {
  baseModel: 'base_model_name',
  task: 'task_id',
  architecture: 'esm_architecture',
  dim: 'esm_embedding_dim',
  hubBaseModel: 'hub_base_model',
  hubRepos: 'esm_repo_ids',
};

/** A filter as stored (JSON), with former field names read as the current ones. */
export function parseEsmFilter(json: string): EsmFilter {
  const stored = JSON.parse(json) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(stored).map(([key, value]) => [FORMER_FILTER_NAMES[key] ?? key, value]));
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

function selectRow(registry: Registry, id: number): Row | undefined {
  return registry.db.prepare('SELECT * FROM esms WHERE id = ?').get(id) as Row | undefined;
}

function optionalString(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** What registering an ESM stores beside its canonical config: where its weights are and where it came from. */
export interface NewEsm {
  readonly identity: string;
  /** The canonical config.json (`esmConfigJson`); its fields fill the columns. */
  readonly config: string;
  readonly weights_path: string;
  readonly weights_sha256: string;
  readonly weights_bytes: number;
  readonly origin: string;
  readonly training?: EsmTrainingReport;
}

/** Inserts the row of a new ESM (its identity not registered yet); to be called inside a write transaction. */
export function insertEsm(registry: Registry, esm: NewEsm): EsmRecord {
  const canonical = JSON.parse(esm.config) as EsmConfig;
  const { lastInsertRowid } = registry.db
    .prepare(
      `INSERT INTO esms (identity, task_id, task_subset, task_split, text_column, label_column, language, num_examples,
         base_model_name, pooling, esm_architecture, esm_embedding_dim, config, weights_path, weights_sha256, weights_bytes, origin, training)
       VALUES (@identity, @task_id, @task_subset, @task_split, @text_column, @label_column, @language, @num_examples,
         @base_model_name, @pooling, @esm_architecture, @esm_embedding_dim, @config, @weights_path, @weights_sha256, @weights_bytes, @origin, @training)`,
    )
    .run({
      identity: esm.identity,
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
      config: esm.config,
      weights_path: esm.weights_path,
      weights_sha256: esm.weights_sha256,
      weights_bytes: esm.weights_bytes,
      origin: esm.origin,
      training: esm.training ? JSON.stringify(esm.training) : null,
    });
  return toRecord(selectRow(registry, Number(lastInsertRowid))!);
}

function filterClause(filter: EsmFilter): { where: string; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const add = (condition: string, value: unknown) => {
    conditions.push(condition);
    params.push(value);
  };
  if (filter.base_model_name !== undefined) add('base_model_name = ?', filter.base_model_name);
  if (filter.language !== undefined) add('lower(language) = lower(?)', filter.language);
  if (filter.task_id !== undefined) add('instr(lower(task_id), lower(?)) > 0', filter.task_id);
  if (filter.esm_architecture !== undefined) add('esm_architecture = ?', filter.esm_architecture);
  if (filter.esm_embedding_dim !== undefined) add('esm_embedding_dim = ?', filter.esm_embedding_dim);
  if (filter.hub_base_model !== undefined) {
    add("id IN (SELECT h.source_task_id FROM hub_sources h, json_each(h.tags) t WHERE t.value = 'base_model:' || ?)", filter.hub_base_model);
  }
  if (filter.esm_repo_ids !== undefined)
    add('id IN (SELECT source_task_id FROM hub_sources WHERE repo_id IN (SELECT value FROM json_each(?)))', JSON.stringify(filter.esm_repo_ids));
  return { where: conditions.length ? `WHERE ${conditions.join(' AND ')}` : '', params };
}

export function listEsms(registry: Registry, filter: EsmFilter = {}): EsmRecord[] {
  const { where, params } = filterClause(filter);
  return (registry.db.prepare(`SELECT * FROM esms ${where} ORDER BY id`).all(...params) as Row[]).map(toRecord);
}

/** One page of `listEsms`, in id order, with the number of ESMs matching the filter. */
export function pageEsms(registry: Registry, filter: EsmFilter, page: { limit: number; offset: number }): { total: number; records: EsmRecord[] } {
  const { where, params } = filterClause(filter);
  const total = registry.db
    .prepare(`SELECT count(*) FROM esms ${where}`)
    .pluck()
    .get(...params) as number;
  const rows = registry.db.prepare(`SELECT * FROM esms ${where} ORDER BY id LIMIT ? OFFSET ?`).all(...params, page.limit, page.offset) as Row[];
  return { total, records: rows.map(toRecord) };
}

/** The number of registered ESMs. */
export function countEsms(registry: Registry): number {
  return registry.db.prepare('SELECT count(*) FROM esms').pluck().get() as number;
}

/** Where each registered ESM's weights are, in id order: what `esmselect doctor` checks. */
export function listEsmWeights(registry: Registry): Pick<EsmRecord, 'id' | 'weights_path' | 'weights_sha256'>[] {
  return registry.db.prepare('SELECT id, weights_path, weights_sha256 FROM esms ORDER BY id').all() as Pick<
    EsmRecord,
    'id' | 'weights_path' | 'weights_sha256'
  >[];
}

/** The weights files some row points at. */
export function referencedWeights(registry: Registry): Set<string> {
  return new Set(registry.db.prepare('SELECT weights_path FROM esms').pluck().all() as string[]);
}

/** The ids matching a filter, without their configs: what a pool of any size can hold in memory. */
export function listEsmIds(registry: Registry, filter: EsmFilter = {}): number[] {
  const { where, params } = filterClause(filter);
  return registry.db
    .prepare(`SELECT id FROM esms ${where} ORDER BY id`)
    .pluck()
    .all(...params) as number[];
}

/** The registered ESM with this identity (`esmIdentity`: the same ESM in any registry), if there is one. */
export function findEsmByIdentity(registry: Registry, identity: string): EsmRecord | undefined {
  const row = registry.db.prepare('SELECT * FROM esms WHERE identity = ?').get(identity) as Row | undefined;
  return row && toRecord(row);
}

/** The registered ESM with this id, if there is one. */
export function findEsm(registry: Registry, id: number): EsmRecord | undefined {
  const row = selectRow(registry, id);
  return row && toRecord(row);
}

export function getEsm(registry: Registry, id: number): EsmRecord {
  const row = selectRow(registry, id);
  if (!row) throw new UserInputError(`esm: there is no ESM #${id} in the registry`, 'esm');
  return toRecord(row);
}

/**
 * Removes the given weights files that no row points at, under the write lock, so that a writer
 * registering the same content either commits first (and the file stays) or finds it gone and
 * writes it again. Returns the paths removed.
 */
export function removeUnreferencedWeights(registry: Registry, paths: readonly string[]): string[] {
  return registry.write(() => {
    const used = registry.db.prepare('SELECT 1 FROM esms WHERE weights_path = ? LIMIT 1').pluck();
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
 * Deletes the rows of ESMs (and the sketches no other row shares) in one transaction: all or none,
 * an unknown id deletes nothing. Their weights files are left for `removeUnreferencedWeights`.
 */
export function deleteEsmRows(registry: Registry, ids: readonly number[]): EsmRecord[] {
  return registry.write(() => {
    const found = ids.map((id) => getEsm(registry, id));
    const remove = registry.db.prepare('DELETE FROM esms WHERE id = ?');
    for (const { id } of found) remove.run(id);
    dropUnusedEsmSketches(registry);
    return found;
  });
}
