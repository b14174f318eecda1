import { realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { CONFIG_FILE, EsmFormatError, loadHfselectEsm, WEIGHTS_FILE } from '../esm/hfselect.js';
import { findEsmFolders } from '../esm/pool.js';
import { updateSourceIndexes } from '../retrieval/source-index.js';
import type { Registry } from '../store/database.js';
import { registerEsm } from './esms.js';

export interface ImportOutcome {
  readonly source: string;
  readonly status: 'imported' | 'skipped' | 'rejected';
  /** The registry id (imported or already there). */
  readonly id?: number;
  /** Why it was skipped or rejected. */
  readonly reason?: string;
}

export interface ImportSummary {
  readonly imported: number;
  readonly skipped: number;
  readonly rejected: number;
  readonly outcomes: ImportOutcome[];
}

export interface ImportOptions {
  /** Called after each folder, with its outcome. */
  readonly onProgress?: (progress: { done: number; total: number; outcome: ImportOutcome }) => void;
  readonly signal?: AbortSignal;
  /**
   * A directory the ESM files must really be in, symbolic links followed (the HTTP service's
   * import root): a folder whose files lead elsewhere is rejected, never read.
   */
  readonly within?: string;
}

/** Why a folder's files are not really inside `root`, or null when they are (or do not exist: loading says so). */
async function escapes(folder: string, root: string): Promise<string | null> {
  const inside = (await realpath(root)) + sep;
  for (const file of [CONFIG_FILE, WEIGHTS_FILE]) {
    const real = await realpath(join(folder, file)).catch(() => null);
    if (real !== null && !real.startsWith(inside)) return `${file} is a link that leads out of the import directory`;
  }
  return null;
}

async function importFolder(registry: Registry, source: string, within: string | undefined): Promise<ImportOutcome> {
  const outside = within === undefined ? null : await escapes(source, within);
  if (outside) return { source, status: 'rejected', reason: outside };
  try {
    const registered = await registerEsm(registry, await loadHfselectEsm(source), { origin: source });
    const { id } = registered.record;
    return registered.status === 'imported'
      ? { source, status: 'imported', id }
      : {
          source,
          status: 'skipped',
          id,
          reason: registered.restored ? `already registered as #${id}; its weights file was restored` : `already registered as #${id}`,
        };
  } catch (error) {
    if (!(error instanceof EsmFormatError)) throw error;
    return { source, status: 'rejected', reason: error.problem };
  }
}

/**
 * Imports every hfselect ESM folder under `roots` (searched recursively). Each ESM is registered
 * in its own transaction, so an interrupted import keeps what it finished, and running it again
 * skips those (same identity) and carries on: idempotent and resumable. Folders that cannot be
 * read as ESMs are rejected with the reason; they never stop the rest. ESMs whose source texts were
 * seen before (a re-import) go back into the HNSW indexes at the end.
 */
export async function importEsmFolders(registry: Registry, roots: readonly string[], options: ImportOptions = {}): Promise<ImportSummary> {
  const folders = await findEsmFolders(roots, 'import');
  const outcomes: ImportOutcome[] = [];
  for (const source of folders) {
    options.signal?.throwIfAborted();
    const outcome = await importFolder(registry, source, options.within);
    outcomes.push(outcome);
    options.onProgress?.({ done: outcomes.length, total: folders.length, outcome });
  }
  updateSourceIndexes(registry);
  const count = (status: ImportOutcome['status']) => outcomes.filter((o) => o.status === status).length;
  return { imported: count('imported'), skipped: count('skipped'), rejected: count('rejected'), outcomes };
}
