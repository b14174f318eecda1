import { UserInputError } from '../errors.js';
import type { EsmPool } from '../esm/pool.js';
import type { EmbeddingSpace } from '../io/embedding-space.js';
import { type RankedTask, type RankingResult, type RankPoolOptions, rankPool } from './ranking.js';
import type { PreparedTarget } from './target.js';

/**
 * Cheap first stages that pick the candidates ESM-LogME then scores:
 * - `textemb`: cosine similarity of TextEmb vectors (Vu et al., 2020), the target's mean embedding
 *   against each source's mean text embedding, through the HNSW index of their embedding space;
 * - `esm-means`: how much each ESM stretches the target's class-mean directions (`classMeanGain`),
 *   from a sketch of its weights kept in the registry.
 */
export const FIRST_STAGES = ['textemb', 'esm-means'] as const;
export type FirstStageName = (typeof FIRST_STAGES)[number];

/** Measured in `npm run bench two-stage` (README, "Two-stage ranking"). */
export const DEFAULT_FIRST_STAGE: FirstStageName = 'textemb';
export const DEFAULT_CANDIDATES = 100;

/** How many sources the second stage scores: the K best of the first stage, or `all` (exhaustive). */
export type Candidates = number | 'all';

export interface FirstStageQuery {
  readonly stage: FirstStageName;
  readonly k: number;
  readonly target: PreparedTarget;
  /** The target's embedding space (for `textemb`); when unset, the one space the pool's vectors are in. */
  readonly space?: EmbeddingSpace;
  /** hnswlib's candidate list while searching (at least k). */
  readonly efSearch?: number;
}

export interface FirstStageCandidate {
  readonly source: string;
  readonly similarity: number;
}

export interface FirstStageResult {
  /** The k most promising indexed sources, best first. */
  readonly candidates: readonly FirstStageCandidate[];
  /** Pool members the stage could judge. */
  readonly indexed: number;
  /** Pool members it has nothing for (no texts, no sketch): all go on to the second stage. */
  readonly unindexed: readonly string[];
  /** Things worth telling that happened on the way (an index rebuilt, and why). */
  readonly notes: readonly string[];
}

/** A pool whose members a first stage can pre-select: the registry's. */
export interface RetrievablePool extends EsmPool {
  retrieve(query: FirstStageQuery): Promise<FirstStageResult>;
  /** The named members, as a pool for the second stage. */
  subset(sources: readonly string[]): EsmPool;
}

export interface TwoStageOptions {
  /** Default `DEFAULT_CANDIDATES`; ignored (every source is scored) for a pool without a first stage. */
  readonly candidates?: Candidates;
  readonly firstStage?: FirstStageName;
  readonly space?: EmbeddingSpace;
  readonly efSearch?: number;
}

export interface FirstStageCounts {
  readonly stage: FirstStageName;
  /** Sources in the pool. */
  readonly considered: number;
  readonly indexed: number;
  readonly unindexed: number;
  /** Indexed sources passed on (at most K). */
  readonly selected: number;
  readonly seconds: number;
  readonly notes: readonly string[];
}

/** How many sources each stage considered; `first` is null when none ran (`all`, or a pool without a first stage). */
export interface StageCounts {
  /** K as applied: `all` when every source was scored. */
  readonly candidates: Candidates;
  readonly first: FirstStageCounts | null;
  readonly second: { readonly considered: number; readonly seconds: number };
}

export interface TwoStageRankedTask extends RankedTask {
  /** Its first-stage similarity; null when it reached the second stage without one (unindexed, or exhaustive). */
  readonly similarity: number | null;
}

export interface TwoStageRankingResult extends RankingResult {
  readonly ranking: TwoStageRankedTask[];
  readonly stages: StageCounts;
}

export function isRetrievable(pool: EsmPool): pool is RetrievablePool {
  return 'retrieve' in pool && 'subset' in pool;
}

function checkCandidates(candidates: Candidates): void {
  if (candidates !== 'all' && !(Number.isSafeInteger(candidates) && candidates > 0)) {
    throw new UserInputError(`candidates: expected a positive integer or "all", got ${String(candidates)}`, 'candidates');
  }
}

/**
 * Ranks a pool in two stages: the first picks the K most promising sources cheaply, the second
 * scores those, and every source the first stage cannot judge, with ESM-LogME. `candidates: 'all'`,
 * or a pool no first stage can search (folders), scores every source: the exhaustive ranking.
 */
export async function rankTwoStage(target: PreparedTarget, pool: EsmPool, options: RankPoolOptions & TwoStageOptions = {}): Promise<TwoStageRankingResult> {
  const started = performance.now();
  const candidates = options.candidates ?? DEFAULT_CANDIDATES;
  checkCandidates(candidates);
  if (candidates === 'all' || !isRetrievable(pool)) {
    const result = await rankPool(target, pool.entries(), pool.total, options);
    return {
      ...result,
      ranking: result.ranking.map((task) => ({ ...task, similarity: null })),
      stages: { candidates: 'all', first: null, second: { considered: result.considered, seconds: result.seconds } },
    };
  }
  const stage = options.firstStage ?? DEFAULT_FIRST_STAGE;
  const first = await pool.retrieve({ stage, k: candidates, target, space: options.space, efSearch: options.efSearch });
  const second = pool.subset([...first.candidates.map((c) => c.source), ...first.unindexed]);
  const firstSeconds = (performance.now() - started) / 1000;
  const result = await rankPool(target, second.entries(), second.total, options);
  const similarity = new Map(first.candidates.map((c) => [c.source, c.similarity]));
  return {
    ...result,
    ranking: result.ranking.map((task) => ({ ...task, similarity: similarity.get(task.source) ?? null })),
    considered: pool.total,
    seconds: (performance.now() - started) / 1000,
    stages: {
      candidates,
      first: {
        stage,
        considered: pool.total,
        indexed: first.indexed,
        unindexed: first.unindexed.length,
        selected: first.candidates.length,
        seconds: firstSeconds,
        notes: first.notes,
      },
      second: { considered: result.considered, seconds: result.seconds },
    },
  };
}
