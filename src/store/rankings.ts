import { UserInputError } from '../errors.js';
import type { RankedTask, RankingResult, RejectedEsm } from '../rank/ranking.js';
import type { StageCounts } from '../rank/two-stage.js';
import type { Registry } from './database.js';
import { type EsmFilter, parseEsmFilter, parseRegistrySource } from './esms.js';

/** A ranking as `rankPool` or, with its stage counts, `rankTwoStage` returns it. */
export type RecordedRanking = RankingResult & { readonly stages?: StageCounts };

export interface RankingRunInput {
  readonly result: RecordedRanking;
  /** The target dataset, when it is registered. */
  readonly datasetId?: number | null;
  /** Where the pool came from: `registry`, or the folders. */
  readonly esmSource: string;
  /** The filter that selected the pool from the registry. */
  readonly filter?: EsmFilter | null;
}

export interface RankingRun {
  readonly id: number;
  readonly dataset_id: number | null;
  readonly esm_source: string;
  readonly esm_filter: EsmFilter | null;
  readonly created_at: string;
  readonly result: RecordedRanking;
}

interface RunRow {
  id: number;
  dataset_id: number | null;
  esm_source: string;
  esm_filter: string | null;
  target: string;
  scorer: string;
  considered: number;
  scored: number;
  rejected: string;
  seconds: number;
  stages: string | null;
  created_at: string;
}

/**
 * Stores a ranking and its results in one transaction. Results from registered ESMs link to their
 * row (the link is cleared, the result kept, if the ESM is deleted later).
 */
export function recordRankingRun(registry: Registry, input: RankingRunInput): number {
  const { result } = input;
  return registry.write(() => {
    const { lastInsertRowid } = registry.db
      .prepare(
        `INSERT INTO ranking_runs (dataset_id, esm_source, esm_filter, target, scorer, considered, scored, rejected, seconds, stages)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        input.datasetId ?? null,
        input.esmSource,
        input.filter ? JSON.stringify(input.filter) : null,
        JSON.stringify(result.target),
        result.scorer,
        result.considered,
        result.scored,
        JSON.stringify(result.rejected),
        result.seconds,
        result.stages ? JSON.stringify(result.stages) : null,
      );
    const runId = Number(lastInsertRowid);
    const insert = registry.db.prepare('INSERT INTO ranking_results (run_id, rank, source_task_id, score, task) VALUES (?, ?, ?, ?, ?)');
    const exists = registry.db.prepare('SELECT 1 FROM esms WHERE id = ?').pluck();
    for (const task of result.ranking) {
      const id = parseRegistrySource(task.source);
      insert.run(runId, task.rank, id !== null && exists.get(id) ? id : null, task.score, JSON.stringify(task));
    }
    return runId;
  });
}

export function getRankingRun(registry: Registry, id: number): RankingRun {
  const row = registry.db.prepare('SELECT * FROM ranking_runs WHERE id = ?').get(id) as RunRow | undefined;
  if (!row) throw new UserInputError(`run: there is no ranking run #${id} in the registry`, 'run');
  const tasks = registry.db.prepare('SELECT task FROM ranking_results WHERE run_id = ? ORDER BY rank').pluck().all(id) as string[];
  return {
    id: row.id,
    dataset_id: row.dataset_id,
    esm_source: row.esm_source,
    esm_filter: row.esm_filter === null ? null : parseEsmFilter(row.esm_filter),
    created_at: row.created_at,
    result: {
      ranking: tasks.map((task) => JSON.parse(task) as RankedTask),
      rejected: JSON.parse(row.rejected) as RejectedEsm[],
      target: JSON.parse(row.target) as RankingResult['target'],
      considered: row.considered,
      scored: row.scored,
      scorer: row.scorer,
      seconds: row.seconds,
      ...(row.stages === null ? {} : { stages: JSON.parse(row.stages) as StageCounts }),
    },
  };
}

/** The runs, newest first, optionally for one dataset. */
export function listRankingRuns(registry: Registry, filter: { datasetId?: number; limit?: number } = {}): Omit<RankingRun, 'result'>[] {
  const rows = registry.db
    .prepare(
      'SELECT id, dataset_id, esm_source, esm_filter, created_at FROM ranking_runs WHERE (@dataset IS NULL OR dataset_id = @dataset) ORDER BY id DESC LIMIT @limit',
    )
    .all({ dataset: filter.datasetId ?? null, limit: filter.limit ?? -1 }) as Pick<RunRow, 'id' | 'dataset_id' | 'esm_source' | 'esm_filter' | 'created_at'>[];
  return rows.map((row) => ({ ...row, esm_filter: row.esm_filter === null ? null : parseEsmFilter(row.esm_filter) }));
}

export function countRankingRuns(registry: Registry): number {
  return registry.db.prepare('SELECT count(*) FROM ranking_runs').pluck().get() as number;
}
