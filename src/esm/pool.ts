import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UserInputError } from '../errors.js';
import type { EmbeddingSpaceMap } from './esm.js';
import { CONFIG_FILE, EsmFormatError, loadHfselectEsm, WEIGHTS_FILE } from './hfselect.js';

/** One member of an ESM pool: loaded, or rejected with the reason. */
export type PoolEntry = { readonly source: string; readonly esm: EmbeddingSpaceMap } | { readonly source: string; readonly problem: string };

/** A pool of ESMs of known size (for progress), read one at a time: folders, or the registry. */
export interface EsmPool {
  readonly total: number;
  entries(): AsyncIterable<PoolEntry>;
}

function isEsmFolder(names: readonly string[]): boolean {
  return names.includes(CONFIG_FILE) || names.includes(WEIGHTS_FILE);
}

/**
 * The ESM folders under the given paths, in sorted order: a path that holds config.json or
 * model.safetensors is one ESM; any other directory is searched recursively (hidden entries skipped).
 * `option` names the input in messages.
 */
export async function findEsmFolders(roots: readonly string[], option = '--esms'): Promise<string[]> {
  const field = option.replace(/^-+/, '');
  const found = new Set<string>();
  const visit = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    if (isEsmFolder(entries.map((e) => e.name))) {
      found.add(dir);
      return;
    }
    const children = entries
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort();
    for (const child of children) await visit(join(dir, child));
  };
  for (const root of roots) {
    const path = resolve(root);
    const info = await stat(path).catch(() => null);
    if (!info) throw new UserInputError(`${option}: ${root} does not exist`, field);
    if (!info.isDirectory()) throw new UserInputError(`${option}: ${root} is not a directory`, field);
    await visit(path);
  }
  if (found.size === 0) {
    throw new UserInputError(`${option}: no ESM folders (with ${CONFIG_FILE} and ${WEIGHTS_FILE}) under ${roots.join(', ')}`, field);
  }
  return [...found].sort();
}

/** Loads the folders one at a time, so a pool of any size never sits in memory at once. */
export async function* readEsmFolders(folders: readonly string[]): AsyncGenerator<PoolEntry> {
  for (const source of folders) {
    try {
      yield { source, esm: await loadHfselectEsm(source) };
    } catch (error) {
      if (!(error instanceof EsmFormatError)) throw error;
      yield { source, problem: error.problem };
    }
  }
}

/** The ESM folders under `roots` (see `findEsmFolders`) as a pool. */
export async function folderPool(roots: readonly string[]): Promise<EsmPool> {
  const folders = await findEsmFolders(roots);
  return { total: folders.length, entries: () => readEsmFolders(folders) };
}
