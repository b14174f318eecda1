import { readdir, rm, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { temporaryFileOwner } from '../io/atomic.js';
import type { Registry } from '../store/database.js';
import { countDatasets } from '../store/datasets.js';
import { listEmbeddingCacheEntries } from '../store/embedding-cache.js';
import { listEsmWeights, referencedWeights, registrySource, removeUnreferencedWeights } from '../store/esms.js';
import { ESMS_DIR, readVerifiedFile, type VerifiedFile } from '../store/files.js';
import { schemaVersion } from '../store/migrations.js';
import { countRankingRuns } from '../store/rankings.js';

/** A row whose file is missing or fails its checksum: refused wherever it would be used. */
export interface BrokenEntry {
  readonly kind: 'esm' | 'embedding-cache';
  /** `registry#<id>` or the cache key. */
  readonly entry: string;
  readonly problem: string;
}

/** A file left by `writeFileAtomic` while writing; `running` when its process is still alive. */
export interface TemporaryFile {
  readonly path: string;
  readonly pid: number;
  readonly running: boolean;
}

export interface DoctorReport {
  readonly registry: string;
  readonly schemaVersion: number;
  /** SQLite's `PRAGMA quick_check`: ['ok'] when the database file is sound. */
  readonly integrity: string[];
  readonly counts: { readonly esms: number; readonly datasets: number; readonly embeddingCacheEntries: number; readonly rankingRuns: number };
  readonly broken: BrokenEntry[];
  /** Weights files (relative to the data dir) that no row points at. */
  readonly orphans: string[];
  readonly temporary: TemporaryFile[];
  /** What `cleanup` removed. */
  readonly removed: string[];
}

export interface DoctorOptions {
  /** Remove orphan weights files and temporary files of processes that are gone. */
  readonly cleanup?: boolean;
  /**
   * Hash every file (default). Off, only existence is checked: a start-up check (the server's)
   * that costs a stat per entry; every use of a file still verifies its checksum.
   */
  readonly verifyChecksums?: boolean;
  readonly onProgress?: (progress: { done: number; total: number }) => void;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function problemOf(file: VerifiedFile): string | undefined {
  return 'problem' in file ? file.problem : undefined;
}

async function missing(path: string, relativePath: string): Promise<string | undefined> {
  const info = await stat(path).catch(() => null);
  return info?.isFile() ? undefined : `${relativePath} is missing`;
}

async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true, recursive: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** Everything `esmselect doctor` reports as wrong, or that cleanup would remove, is absent. */
export function isHealthy(report: DoctorReport): boolean {
  return report.integrity.join() === 'ok' && report.broken.length === 0 && report.orphans.length === 0 && report.temporary.every((t) => t.running);
}

/**
 * Checks the registry against its files: every ESM's and embedding-cache entry's file must exist
 * and match its SHA-256; weights files no row points at and temporary files left by crashed
 * writers are listed (and removed with `cleanup`). Nothing is repaired silently: a broken row stays
 * (and is refused by ranking and export) until it is deleted, or re-imported, which restores its file.
 */
export async function checkRegistry(registry: Registry, options: DoctorOptions = {}): Promise<DoctorReport> {
  const esms = listEsmWeights(registry);
  const cache = listEmbeddingCacheEntries(registry);
  const checks = [
    ...esms.map((e) => ({ kind: 'esm' as const, entry: registrySource(e.id), path: e.weights_path, sha256: e.weights_sha256 })),
    ...cache.map((c) => ({ kind: 'embedding-cache' as const, entry: c.key, path: c.path, sha256: c.sha256 })),
  ];
  const broken: BrokenEntry[] = [];
  const verify = options.verifyChecksums ?? true;
  for (const [i, check] of checks.entries()) {
    const problem = verify
      ? problemOf(await readVerifiedFile(registry.dataDir, check.path, check.sha256))
      : await missing(registry.resolve(check.path), check.path);
    if (problem) broken.push({ kind: check.kind, entry: check.entry, problem });
    options.onProgress?.({ done: i + 1, total: checks.length });
  }

  const referenced = referencedWeights(registry);
  const orphans: string[] = [];
  const temporary: TemporaryFile[] = [];
  for (const path of await filesUnder(registry.dataDir)) {
    const rel = relative(registry.dataDir, path);
    const owner = temporaryFileOwner(rel);
    if (owner) temporary.push({ path: rel, pid: owner.pid, running: isRunning(owner.pid) });
    else if (rel.startsWith(`${ESMS_DIR}/`) && !referenced.has(rel)) orphans.push(rel);
  }

  const removed: string[] = [];
  if (options.cleanup) {
    removed.push(...removeUnreferencedWeights(registry, orphans));
    for (const t of temporary.filter((t) => !t.running)) {
      await rm(registry.resolve(t.path), { force: true });
      removed.push(t.path);
    }
  }
  return {
    registry: registry.path,
    schemaVersion: schemaVersion(registry.db),
    integrity: registry.quickCheck(),
    counts: { esms: esms.length, datasets: countDatasets(registry), embeddingCacheEntries: cache.length, rankingRuns: countRankingRuns(registry) },
    broken,
    orphans: orphans.filter((o) => !removed.includes(o)),
    temporary: temporary.filter((t) => !removed.includes(t.path)),
    removed,
  };
}
