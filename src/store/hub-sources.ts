import type { Registry } from './database.js';

/**
 * Where registered ESMs came from on the Hugging Face Hub: one row per repo pulled, with the commit
 * its files were read at, so that pulling again downloads only repos whose commit changed.
 */
export interface HubSource {
  readonly repo_id: string;
  readonly commit_sha: string;
  /** The registered ESM; null when the repo's files at that commit are not a usable ESM. */
  readonly source_task_id: number | null;
  /** The repo's tags at that commit, as the Hub listed them. */
  readonly tags: string[];
  /** Why the repo was rejected at that commit. */
  readonly rejected: string | null;
  readonly pulled_at: string;
}

type Row = Omit<HubSource, 'tags'> & { tags: string };

function toSource(row: Row): HubSource {
  return { ...row, tags: JSON.parse(row.tags) as string[] };
}

export function findHubSource(registry: Registry, repoId: string): HubSource | undefined {
  const row = registry.db.prepare('SELECT * FROM hub_sources WHERE repo_id = ?').get(repoId) as Row | undefined;
  return row && toSource(row);
}

/** The Hub repos a registered ESM was pulled from (the same ESM may be published in several). */
export function hubSourcesOf(registry: Registry, sourceTaskId: number): HubSource[] {
  return (registry.db.prepare('SELECT * FROM hub_sources WHERE source_task_id = ? ORDER BY repo_id').all(sourceTaskId) as Row[]).map(toSource);
}

type Recorded = { repoId: string; commit: string; tags: readonly string[] } & ({ sourceTaskId: number } | { rejected: string });

/**
 * Records what a repo held at a commit: a registered ESM, or why it is none. Replaces what an
 * earlier pull recorded. To be called inside a write transaction (`registerEsm`'s `withRecord`).
 */
export function writeHubSource(registry: Registry, source: Recorded): void {
  registry.db
    .prepare(
      `INSERT INTO hub_sources (repo_id, commit_sha, source_task_id, tags, rejected) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (repo_id) DO UPDATE SET commit_sha = excluded.commit_sha, source_task_id = excluded.source_task_id,
         tags = excluded.tags, rejected = excluded.rejected, pulled_at = excluded.pulled_at`,
    )
    .run(
      source.repoId,
      source.commit,
      'sourceTaskId' in source ? source.sourceTaskId : null,
      JSON.stringify(source.tags),
      'rejected' in source ? source.rejected : null,
    );
}

/** `writeHubSource` in a transaction of its own. */
export function recordHubSource(registry: Registry, source: Recorded): void {
  registry.write(() => writeHubSource(registry, source));
}
