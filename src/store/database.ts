import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { dataDir as defaultDataDir } from '../config.js';
import { applyMigrations } from './migrations.js';

export const REGISTRY_FILE = 'esmselect.sqlite';

/**
 * How long a connection waits for another's write lock before SQLITE_BUSY. Writers hold it for
 * milliseconds (one ESM's row per transaction; files are written before), so this is never reached
 * in practice; WAL lets readers go on while a writer works.
 */
export const BUSY_TIMEOUT_MS = 60_000;

export interface OpenRegistryOptions {
  /** Defaults to `dataDir()` (ESMSELECT_DATA_DIR, else data/ in the package root). */
  readonly dataDir?: string;
}

/**
 * The registry: a SQLite database at `<dataDir>/esmselect.sqlite` (source tasks and their ESMs,
 * datasets, embedding-cache entries, ranking runs) plus the files it points at under the data dir.
 * Open one per process (or per worker); better-sqlite3 connections are synchronous and not shared
 * across threads.
 */
export class Registry {
  readonly db: Database.Database;

  constructor(
    readonly dataDir: string,
    readonly path: string,
  ) {
    this.db = new Database(path);
    try {
      // The busy timeout first, so that even switching to WAL waits for other connections.
      this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      this.db.pragma('journal_mode = WAL');
      // FULL: a commit survives power loss, not only a crash of the process.
      this.db.pragma('synchronous = FULL');
      this.db.pragma('foreign_keys = ON');
      applyMigrations(this.db);
    } catch (error) {
      this.db.close();
      throw error;
    }
  }

  /** An absolute path for a path stored relative to the data dir. */
  resolve(relative: string): string {
    return join(this.dataDir, relative);
  }

  /**
   * Runs `work` in a BEGIN IMMEDIATE transaction: the write lock is taken up front (waiting up to
   * the busy timeout), so the transaction never has to upgrade a read lock, which is the case
   * SQLite answers with SQLITE_BUSY at once.
   */
  write<T>(work: () => T): T {
    return this.db.transaction(work).immediate();
  }

  /** SQLite's `PRAGMA quick_check`: `['ok']`, or the problems it found. */
  quickCheck(): string[] {
    return (this.db.pragma('quick_check') as { quick_check: string }[]).map((r) => r.quick_check);
  }

  close(): void {
    this.db.close();
  }
}

export function openRegistry(options: OpenRegistryOptions = {}): Registry {
  const dir = resolve(options.dataDir ?? defaultDataDir());
  mkdirSync(dir, { recursive: true });
  return new Registry(dir, join(dir, REGISTRY_FILE));
}
