import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UserInputError } from '../errors.js';
import type { EsmConfig } from '../esm/config.js';
import { parseEsmConfig } from '../esm/config.js';
import { CONFIG_FILE, EsmFormatError, loadHfselectEsm, WEIGHTS_FILE } from '../esm/hfselect.js';
import { findEsmFolders, type PoolEntry } from '../esm/pool.js';
import { loadRegisteredEsm } from '../registry/esms.js';
import type { Registry } from '../store/database.js';
import { type EsmFilter, findEsmByIdentity, listEsms, registrySource } from '../store/esms.js';

/**
 * How a worker finds an ESM: a folder (the same path on every machine: shared storage), or a
 * registered ESM by identity (the same content in any registry). `stamp` is what the plan saw.
 */
export type EsmRef = { readonly folder: string; readonly stamp: string } | { readonly identity: string };

/** One ESM of a batch's pool, as planned. */
export interface PlannedSource {
  /** How rankings name it: the folder, or `registry#id` in the coordinator's registry. */
  readonly source: string;
  readonly ref: EsmRef;
  /** The config (for the ranking's task fields), or null with `problem` when it cannot be used. */
  readonly config: EsmConfig | null;
  readonly problem: string | null;
}

/** Sizes and modification times of an ESM folder's two files: a changed ESM changes its stamp. */
async function folderStamp(folder: string): Promise<string> {
  const parts = await Promise.all(
    [CONFIG_FILE, WEIGHTS_FILE].map(async (file) => {
      const info = await stat(join(folder, file)).catch(() => null);
      return info ? `${info.size}@${info.mtimeMs}` : 'missing';
    }),
  );
  return parts.join(',');
}

async function folderConfig(folder: string): Promise<{ config: EsmConfig; problem: null } | { config: null; problem: string }> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(folder, CONFIG_FILE), 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return {
      config: null,
      problem:
        error instanceof SyntaxError
          ? `${CONFIG_FILE} is not valid JSON`
          : code === 'ENOENT'
            ? `${CONFIG_FILE} is missing`
            : `${CONFIG_FILE} cannot be read (${code})`,
    };
  }
  const parsed = parseEsmConfig(raw);
  return 'problem' in parsed ? { config: null, problem: parsed.problem } : { config: parsed.config, problem: null };
}

/** The ESM folders under `roots` (sorted, as `findEsmFolders` finds them) with their configs. */
export async function folderSources(roots: readonly string[]): Promise<PlannedSource[]> {
  const folders = await findEsmFolders(roots);
  return Promise.all(folders.map(async (folder) => ({ source: folder, ref: { folder, stamp: await folderStamp(folder) }, ...(await folderConfig(folder)) })));
}

/** The registered ESMs matching `filter`, in id order. */
export function registrySources(registry: Registry, filter: EsmFilter = {}): PlannedSource[] {
  return listEsms(registry, filter).map((record) => ({
    source: registrySource(record.id),
    ref: { identity: record.identity },
    config: record.config,
    problem: null,
  }));
}

/**
 * An ESM is gone or changed since the plan: the unit (or queue job) must fail rather than score
 * something else. Run again, the batch sees another plan and says what changed.
 */
export class PoolChangedError extends UserInputError {
  constructor(problem: string) {
    super(`esms: ${problem}`, 'esms');
  }
}

async function loadRef(ref: EsmRef, registry: () => Registry): Promise<PoolEntry> {
  if ('folder' in ref) {
    const stamp = await folderStamp(ref.folder);
    if (stamp !== ref.stamp) {
      throw new PoolChangedError(
        `${ref.folder} changed since the batch was planned (files ${stamp}, planned ${ref.stamp}); a queue worker needs the pool's folders at the same path, unchanged`,
      );
    }
    try {
      return { source: ref.folder, esm: await loadHfselectEsm(ref.folder) };
    } catch (error) {
      if (!(error instanceof EsmFormatError)) throw error;
      return { source: ref.folder, problem: error.problem };
    }
  }
  const record = findEsmByIdentity(registry(), ref.identity);
  if (!record)
    throw new PoolChangedError(
      `ESM ${ref.identity.slice(0, 12)}… is not in the registry at ${registry().dataDir}; a queue worker needs the pool's ESMs in its registry`,
    );
  const source = registrySource(record.id);
  try {
    return { source, esm: await loadRegisteredEsm(registry(), record) };
  } catch (error) {
    if (!(error instanceof EsmFormatError)) throw error;
    return { source, problem: error.problem };
  }
}

/**
 * Loads the ESMs of one shard, in order. An ESM that is unusable (bad file) is an entry with its
 * problem, as in `rankPool`; one that is gone or changed since the plan throws PoolChangedError.
 * `registry` is opened only when a registry ESM is needed.
 */
export async function loadShard(refs: readonly EsmRef[], registry: () => Registry): Promise<PoolEntry[]> {
  const entries: PoolEntry[] = [];
  for (const ref of refs) entries.push(await loadRef(ref, registry));
  return entries;
}
