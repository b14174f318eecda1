import { UserInputError } from '../errors.js';
import type { TaskType } from '../task/labels.js';
import type { Registry } from './database.js';
import { sha256Hex } from './files.js';

/** A target (or source) dataset as the embedder reads it: where from, which slice, which columns. */
export interface DatasetInput {
  /** A hub id or a local path. */
  readonly name: string;
  readonly subset?: string | null;
  readonly split?: string | null;
  readonly text_column?: string | string[] | null;
  readonly label_column?: string | null;
  readonly task_type?: TaskType | null;
  readonly num_rows?: number | null;
  readonly meta?: Record<string, unknown> | null;
  /**
   * What makes two datasets the same; give a content hash when there is one (a local file's
   * SHA-256, a hub revision). Defaults to the hash of name, subset, split and columns.
   */
  readonly fingerprint?: string;
}

export interface DatasetRecord {
  readonly id: number;
  readonly fingerprint: string;
  readonly name: string;
  readonly subset: string | null;
  readonly split: string | null;
  readonly text_column: string | string[] | null;
  readonly label_column: string | null;
  readonly task_type: TaskType | null;
  readonly num_rows: number | null;
  readonly meta: Record<string, unknown> | null;
  readonly created_at: string;
}

type Row = Omit<DatasetRecord, 'text_column' | 'meta'> & { text_column: string | null; meta: string | null };

function toRecord(row: Row): DatasetRecord {
  return {
    ...row,
    text_column: row.text_column === null ? null : (JSON.parse(row.text_column) as string | string[]),
    meta: row.meta === null ? null : (JSON.parse(row.meta) as Record<string, unknown>),
  };
}

export function datasetFingerprint(input: DatasetInput): string {
  return (
    input.fingerprint ??
    sha256Hex(
      JSON.stringify(['esmselect-dataset-v1', input.name, input.subset ?? null, input.split ?? null, input.text_column ?? null, input.label_column ?? null]),
    )
  );
}

/** Registers a dataset, or returns the one with the same fingerprint (it is not changed). */
export function registerDataset(registry: Registry, input: DatasetInput): DatasetRecord {
  const fingerprint = datasetFingerprint(input);
  return registry.write(() => {
    registry.db
      .prepare(
        `INSERT INTO datasets (fingerprint, name, subset, split, text_column, label_column, task_type, num_rows, meta)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO NOTHING`,
      )
      .run(
        fingerprint,
        input.name,
        input.subset ?? null,
        input.split ?? null,
        input.text_column == null ? null : JSON.stringify(input.text_column),
        input.label_column ?? null,
        input.task_type ?? null,
        input.num_rows ?? null,
        input.meta == null ? null : JSON.stringify(input.meta),
      );
    return toRecord(registry.db.prepare('SELECT * FROM datasets WHERE fingerprint = ?').get(fingerprint) as Row);
  });
}

export function getDataset(registry: Registry, id: number): DatasetRecord {
  const row = registry.db.prepare('SELECT * FROM datasets WHERE id = ?').get(id) as Row | undefined;
  if (!row) throw new UserInputError(`dataset: there is no dataset #${id} in the registry`, 'dataset');
  return toRecord(row);
}

export function listDatasets(registry: Registry): DatasetRecord[] {
  return (registry.db.prepare('SELECT * FROM datasets ORDER BY id').all() as Row[]).map(toRecord);
}

/**
 * Deletes a dataset with its embedding-cache rows; ranking runs keep their results and lose the
 * link. Returns the paths of its cache files, for the embedding cache (which owns them) to remove.
 */
export function deleteDataset(registry: Registry, id: number): string[] {
  return registry.write(() => {
    getDataset(registry, id);
    const paths = registry.db.prepare('SELECT path FROM embedding_cache WHERE dataset_id = ?').pluck().all(id) as string[];
    registry.db.prepare('DELETE FROM datasets WHERE id = ?').run(id);
    return paths;
  });
}

export function countDatasets(registry: Registry): number {
  return registry.db.prepare('SELECT count(*) FROM datasets').pluck().get() as number;
}
