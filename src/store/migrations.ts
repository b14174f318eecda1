import type { Database } from 'better-sqlite3';

/** One step of the registry's schema. Applied once, in its own transaction, in version order. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

const NOW = "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))";

/**
 * The registry's schema, oldest first. To change it, append one entry with the next version; never
 * edit an entry that has shipped, since registries out there have already applied it.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'source tasks and their ESMs, datasets, embedding cache, ranking runs',
    sql: `
      -- One row per ESM: a source task as seen through one base model. The weights live in a file
      -- (path relative to the data dir) that is complete and fsynced before the row is committed.
      CREATE TABLE source_tasks (
        id INTEGER PRIMARY KEY,
        identity TEXT NOT NULL UNIQUE,
        task_id TEXT NOT NULL,
        task_subset TEXT,
        task_split TEXT,
        text_column TEXT,
        label_column TEXT,
        language TEXT,
        num_examples INTEGER,
        base_model_name TEXT NOT NULL,
        pooling TEXT,
        esm_architecture TEXT NOT NULL,
        esm_embedding_dim INTEGER NOT NULL,
        config TEXT NOT NULL,
        weights_path TEXT NOT NULL,
        weights_sha256 TEXT NOT NULL,
        weights_bytes INTEGER NOT NULL,
        origin TEXT NOT NULL,
        training TEXT,
        created_at TEXT NOT NULL DEFAULT ${NOW}
      ) STRICT;
      CREATE INDEX source_tasks_base_model ON source_tasks (base_model_name, esm_embedding_dim);
      CREATE INDEX source_tasks_task_id ON source_tasks (task_id);
      CREATE INDEX source_tasks_weights ON source_tasks (weights_path);

      CREATE TABLE datasets (
        id INTEGER PRIMARY KEY,
        fingerprint TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        subset TEXT,
        split TEXT,
        text_column TEXT,
        label_column TEXT,
        task_type TEXT CHECK (task_type IN ('classification', 'regression')),
        num_rows INTEGER,
        meta TEXT,
        created_at TEXT NOT NULL DEFAULT ${NOW}
      ) STRICT;

      CREATE TABLE embedding_cache (
        key TEXT PRIMARY KEY,
        dataset_id INTEGER REFERENCES datasets (id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        pooling TEXT,
        rows INTEGER NOT NULL,
        dim INTEGER NOT NULL,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        meta TEXT,
        created_at TEXT NOT NULL DEFAULT ${NOW},
        last_used_at TEXT NOT NULL DEFAULT ${NOW}
      ) STRICT;
      CREATE INDEX embedding_cache_dataset ON embedding_cache (dataset_id);

      CREATE TABLE ranking_runs (
        id INTEGER PRIMARY KEY,
        dataset_id INTEGER REFERENCES datasets (id) ON DELETE SET NULL,
        esm_source TEXT NOT NULL,
        esm_filter TEXT,
        target TEXT NOT NULL,
        scorer TEXT NOT NULL,
        considered INTEGER NOT NULL,
        scored INTEGER NOT NULL,
        rejected TEXT NOT NULL,
        seconds REAL NOT NULL,
        created_at TEXT NOT NULL DEFAULT ${NOW}
      ) STRICT;
      CREATE INDEX ranking_runs_dataset ON ranking_runs (dataset_id);

      CREATE TABLE ranking_results (
        run_id INTEGER NOT NULL REFERENCES ranking_runs (id) ON DELETE CASCADE,
        rank INTEGER NOT NULL,
        source_task_id INTEGER REFERENCES source_tasks (id) ON DELETE SET NULL,
        score REAL NOT NULL,
        task TEXT NOT NULL,
        PRIMARY KEY (run_id, rank)
      ) STRICT;
      CREATE INDEX ranking_results_source_task ON ranking_results (source_task_id);
    `,
  },
  {
    version: 2,
    name: 'ranking jobs of the HTTP service',
    sql: `
      -- One row per ranking requested over HTTP. Its input waits in jobs/<id>/ under the data dir
      -- until the job ends; the ranking itself is a ranking run. 'running' rows found at start-up
      -- belong to a process that stopped: they are queued again and counted in restarts.
      CREATE TABLE ranking_jobs (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
        request TEXT NOT NULL,
        run_id INTEGER REFERENCES ranking_runs (id) ON DELETE SET NULL,
        error TEXT,
        progress TEXT,
        restarts INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL DEFAULT ${NOW},
        started_at TEXT,
        finished_at TEXT
      ) STRICT;
      CREATE INDEX ranking_jobs_state ON ranking_jobs (state, created_at);
    `,
  },
  {
    version: 3,
    name: 'first-stage summaries of source tasks (TextEmb vectors, ESM sketches), stage counts of ranking runs',
    sql: `
      -- The TextEmb vector of a source task (Vu et al., 2020): the normalised mean base-model embedding
      -- of up to 1,000 of its texts, in one embedding space (model + pooling). Keyed by the ESM's
      -- identity and kept when the ESM is deleted, so a re-import is indexed again without embedding.
      CREATE TABLE source_vectors (
        identity TEXT PRIMARY KEY,
        model TEXT NOT NULL,
        pooling TEXT NOT NULL,
        dim INTEGER NOT NULL,
        texts INTEGER NOT NULL,
        texts_sha256 TEXT NOT NULL,
        dataset_id INTEGER REFERENCES datasets (id) ON DELETE SET NULL,
        vector BLOB NOT NULL,
        vector_sha256 TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT ${NOW}
      ) STRICT;
      CREATE INDEX source_vectors_space ON source_vectors (model, pooling);

      -- A random sketch S·W of an ESM's weight matrix and its squared Frobenius norm, for the
      -- class-means first stage; one per weights file, removed with it.
      CREATE TABLE esm_sketches (
        weights_sha256 TEXT PRIMARY KEY,
        rows INTEGER NOT NULL,
        seed INTEGER NOT NULL,
        dim INTEGER NOT NULL,
        frobenius_sq REAL NOT NULL,
        sketch BLOB NOT NULL
      ) STRICT;

      -- How many sources each stage of a two-stage ranking considered (JSON; null: one stage).
      ALTER TABLE ranking_runs ADD COLUMN stages TEXT;
    `,
  },
  {
    version: 4,
    name: 'jobs of every kind: rankings and fine-tunes',
    sql: `
      -- The HTTP service's jobs, of two kinds, in one table and one runner. A fine-tune's result
      -- (stage reports, checkpoint folders, the ESM it registered) is JSON in result; a ranking's
      -- stays a ranking run (run_id). Its files live in finetunes/<id>/ under the data dir.
      ALTER TABLE ranking_jobs RENAME TO jobs;
      ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'ranking' CHECK (kind IN ('ranking', 'finetune'));
      ALTER TABLE jobs ADD COLUMN result TEXT;
      DROP INDEX ranking_jobs_state;
      CREATE INDEX jobs_kind_state ON jobs (kind, state, created_at);
    `,
  },
  {
    version: 5,
    name: 'batch rankings: runs and their checkpointed units',
    sql: `
      -- One row per output directory of esmselect batch-rank. The fingerprint covers the plan (targets,
      -- pool, shard size, scorer): a run is resumed only under the same plan.
      CREATE TABLE batch_runs (
        id INTEGER PRIMARY KEY,
        out_dir TEXT NOT NULL UNIQUE,
        fingerprint TEXT NOT NULL,
        plan TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT ${NOW},
        finished_at TEXT
      ) STRICT;

      -- One row per finished (target, pool shard) unit, written in one transaction: the scores of the
      -- shard's ESMs in pool order (float64 little-endian, NaN where rejected) and why any was rejected.
      -- A unit delivered twice (a retried queue job) finds its row and writes nothing.
      CREATE TABLE batch_units (
        run_id INTEGER NOT NULL REFERENCES batch_runs (id) ON DELETE CASCADE,
        target TEXT NOT NULL,
        shard INTEGER NOT NULL,
        scores BLOB NOT NULL,
        problems TEXT,
        worker TEXT NOT NULL,
        seconds REAL NOT NULL,
        created_at TEXT NOT NULL DEFAULT ${NOW},
        PRIMARY KEY (run_id, target, shard)
      ) STRICT;
    `,
  },
  {
    version: 6,
    name: 'provenance of ESMs pulled from the Hugging Face Hub; pull jobs',
    sql: `
      -- One row per Hub repo pulled: the commit its files were read at, and either the ESM they are
      -- (it goes with the ESM) or why they are not one. A pull skips a repo whose commit is the one
      -- recorded here. tags: the repo's tags at that commit (JSON array), as the Hub listed them
      -- (base_model:<current name>, dataset:<task id>, ...), so the registry can select the Hub's pool
      -- for a base model as hfselect does. The token used is never stored.
      CREATE TABLE hub_sources (
        repo_id TEXT PRIMARY KEY,
        commit_sha TEXT NOT NULL,
        source_task_id INTEGER REFERENCES source_tasks (id) ON DELETE CASCADE,
        tags TEXT NOT NULL,
        rejected TEXT,
        pulled_at TEXT NOT NULL DEFAULT ${NOW},
        CHECK ((source_task_id IS NULL) <> (rejected IS NULL))
      ) STRICT;
      CREATE INDEX hub_sources_source_task ON hub_sources (source_task_id);

      -- A third kind of job, pulls from the Hub. SQLite cannot change a CHECK constraint in place:
      -- the table is rebuilt with the same columns and rows.
      CREATE TABLE jobs_new (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
        request TEXT NOT NULL,
        run_id INTEGER REFERENCES ranking_runs (id) ON DELETE SET NULL,
        error TEXT,
        progress TEXT,
        restarts INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL DEFAULT ${NOW},
        started_at TEXT,
        finished_at TEXT,
        kind TEXT NOT NULL DEFAULT 'ranking' CHECK (kind IN ('ranking', 'finetune', 'pull')),
        result TEXT
      ) STRICT;
      INSERT INTO jobs_new (id, state, request, run_id, error, progress, restarts, created_at, started_at, finished_at, kind, result)
        SELECT id, state, request, run_id, error, progress, restarts, created_at, started_at, finished_at, kind, result FROM jobs;
      DROP TABLE jobs;
      ALTER TABLE jobs_new RENAME TO jobs;
      CREATE INDEX jobs_kind_state ON jobs (kind, state, created_at);
    `,
  },
  {
    version: 7,
    name: 'source_tasks is named esms, the registry noun everywhere else',
    sql: `
      -- A row of source_tasks is an ESM (a source task seen through one base model), and the API, the
      -- CLI and the types call it so. RENAME also rewrites the references to it (ranking_results,
      -- hub_sources); their source_task_id columns keep their names (they name the ranked task's ESM).
      ALTER TABLE source_tasks RENAME TO esms;
      DROP INDEX source_tasks_base_model;
      DROP INDEX source_tasks_task_id;
      DROP INDEX source_tasks_weights;
      CREATE INDEX esms_base_model ON esms (base_model_name, esm_embedding_dim);
      CREATE INDEX esms_task_id ON esms (task_id);
      CREATE INDEX esms_weights ON esms (weights_path);
    `,
  },
];

function checkOrder(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration "${m.name}" has version ${m.version}, expected ${i + 1}: versions must count up from 1`);
  });
}

function appliedVersions(db: Database): Set<number> {
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  if (!table) return new Set();
  return new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
}

/**
 * Brings the schema up to date: each pending migration runs with its bookkeeping row in one
 * BEGIN IMMEDIATE transaction, re-checked under the write lock, so processes starting together
 * apply it exactly once. An up-to-date registry is only read. Returns the versions applied now.
 */
export function applyMigrations(db: Database, migrations: readonly Migration[] = MIGRATIONS): number[] {
  checkOrder(migrations);
  const known = migrations.length;
  const newest = Math.max(0, ...appliedVersions(db));
  if (newest > known) {
    throw new Error(`the registry ${db.name} has schema version ${newest}, newer than this esmselect knows (${known}); upgrade esmselect`);
  }
  const applied: number[] = [];
  for (const migration of migrations) {
    if (appliedVersions(db).has(migration.version)) continue;
    const ran = db
      .transaction(() => {
        db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT');
        if (appliedVersions(db).has(migration.version)) return false;
        db.exec(migration.sql);
        db.prepare(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ${NOW})`).run(migration.version, migration.name);
        return true;
      })
      .immediate();
    if (ran) applied.push(migration.version);
  }
  return applied;
}

/** The newest schema version applied to the database (0 for a new one). */
export function schemaVersion(db: Database): number {
  return Math.max(0, ...appliedVersions(db));
}
