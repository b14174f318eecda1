import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { UserInputError } from '../errors.js';
import type { EsmConfig } from '../esm/config.js';
import type { EmbeddingSpaceMap } from '../esm/esm.js';
import type { PoolEntry } from '../esm/pool.js';
import type { Embeddings } from '../io/embeddings.js';
import type { Labels, TaskType } from '../task/labels.js';
import { esmLogme } from './esm-logme.js';
import { type PreparedTarget, prepareTarget } from './target.js';

/**
 * Scores a batch of ESMs against one prepared target; implementations differ in speed (and the
 * TensorFlow.js one, in float32 rounding).
 */
export interface EsmScorer {
  readonly name: string;
  /** One line for logs: the implementation and what it runs on (default: the name). */
  readonly description?: string;
  /** ESMs per `score` call that keep the scorer busy; rankPool's default batch size. */
  readonly batchSize?: number;
  /** Prepares the target for `score`; `prepareTarget` (TypeScript) when absent. */
  prepare?(embeddings: Embeddings, labels: Labels): Promise<PreparedTarget>;
  score(target: PreparedTarget, esms: readonly EmbeddingSpaceMap[]): Promise<number[]>;
}

export const typescriptScorer: EsmScorer = {
  name: 'typescript',
  description: 'typescript (float64, one thread)',
  async score(target, esms) {
    return esms.map((esm) => esmLogme(target, esm));
  },
};

/** The target prepared the way the scorer wants it. */
export async function prepareTargetFor(scorer: EsmScorer, embeddings: Embeddings, labels: Labels): Promise<PreparedTarget> {
  return scorer.prepare ? scorer.prepare(embeddings, labels) : prepareTarget(embeddings, labels);
}

/** One ranked source task; field names follow hfselect's ESMConfig and TaskRanking. */
export interface RankedTask {
  readonly rank: number;
  readonly task_id: string;
  readonly task_subset: string | null;
  readonly text_column: string | string[] | null;
  readonly label_column: string | null;
  readonly task_split: string | null;
  readonly num_examples: number | null;
  readonly language: string | null;
  readonly base_model_name: string;
  readonly esm_architecture: string;
  readonly score: number;
  /** Where the ESM came from (folder or registry id). */
  readonly source: string;
}

export interface RejectedEsm {
  readonly source: string;
  readonly problem: string;
}

export interface RankingResult {
  readonly ranking: RankedTask[];
  readonly rejected: RejectedEsm[];
  readonly target: { readonly n: number; readonly d: number; readonly task: TaskType; readonly classes?: readonly (string | number | boolean)[] };
  /** ESMs offered, and ESMs that received a score. */
  readonly considered: number;
  readonly scored: number;
  readonly scorer: string;
  readonly seconds: number;
}

export interface RankProgress {
  readonly done: number;
  readonly total: number;
}

export interface RankPoolOptions {
  /** Keep only the best `top` tasks (all when unset). */
  readonly top?: number;
  readonly scorer?: EsmScorer;
  /** ESMs handed to the scorer at once. */
  readonly batchSize?: number;
  readonly onProgress?: (progress: RankProgress) => void;
  readonly signal?: AbortSignal;
}

export function describeTask(config: EsmConfig, score: number, source: string): Omit<RankedTask, 'rank'> {
  return {
    task_id: config.task_id,
    task_subset: config.task_subset ?? null,
    text_column: config.text_column ?? null,
    label_column: config.label_column ?? null,
    task_split: config.task_split ?? null,
    num_examples: config.num_examples ?? null,
    language: config.language ?? null,
    base_model_name: config.base_model_name,
    esm_architecture: config.esm_architecture,
    score,
    source,
  };
}

/** Why an ESM of another dimension than the target's is not scored. */
export function dimensionMismatch(esmDim: number, targetDim: number): string {
  return `ESM dimension ${esmDim} does not match the target embeddings' ${targetDim}`;
}

/** Why an ESM whose score came out NaN or infinite is left out of the ranking. */
export const NON_FINITE_SCORE = 'LogME did not produce a finite score';

/** Best score first (hfselect's `argsort(scores)[::-1]`); ties by task id, then source, for a stable order. */
export function compareRanked(a: { score: number; task_id: string; source: string }, b: typeof a): number {
  if (a.score !== b.score) return b.score - a.score;
  if (a.task_id !== b.task_id) return a.task_id < b.task_id ? -1 : 1;
  return a.source < b.source ? -1 : a.source > b.source ? 1 : 0;
}

/**
 * Scores every ESM of the pool against the target with ESM-LogME and ranks the source tasks.
 * The pool is consumed batch by batch, so its size is bounded by disk, not memory. ESMs that cannot
 * be used (unreadable, or of another dimension than the target) are listed in `rejected`, as
 * hfselect drops faulty ESMs, and never stop the rest.
 */
export async function rankPool(target: PreparedTarget, pool: AsyncIterable<PoolEntry>, total: number, options: RankPoolOptions = {}): Promise<RankingResult> {
  const started = performance.now();
  const scorer = options.scorer ?? typescriptScorer;
  const batchSize = options.batchSize ?? scorer.batchSize ?? 8;
  const { dim } = target.embeddings;
  const scored: Omit<RankedTask, 'rank'>[] = [];
  const rejected: RejectedEsm[] = [];
  let considered = 0;
  let settled = 0;
  let batch: { source: string; esm: EmbeddingSpaceMap }[] = [];
  // The batch being scored while the next one is read: an asynchronous scorer overlaps the two.
  let scoring: Promise<void> = Promise.resolve();

  const record = (done: typeof batch, scores: number[]): void => {
    done.forEach(({ source, esm }, i) => {
      if (Number.isFinite(scores[i])) scored.push(describeTask(esm.config, scores[i], source));
      else rejected.push({ source, problem: NON_FINITE_SCORE });
    });
    settled += done.length;
    options.onProgress?.({ done: settled, total });
  };

  const flush = async (): Promise<void> => {
    await scoring;
    if (batch.length === 0) return;
    const current = batch;
    batch = [];
    scoring = scorer
      .score(
        target,
        current.map((b) => b.esm),
      )
      .then((scores) => record(current, scores));
    // Handled when awaited by the next flush; this keeps a failure meanwhile from counting as unhandled.
    scoring.catch(() => {});
    await yieldToEventLoop();
  };

  for await (const entry of pool) {
    options.signal?.throwIfAborted();
    considered++;
    if ('problem' in entry || entry.esm.dim !== dim) {
      rejected.push('problem' in entry ? entry : { source: entry.source, problem: dimensionMismatch(entry.esm.dim, dim) });
      settled++;
    } else batch.push(entry);
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  await scoring;
  options.onProgress?.({ done: considered, total });

  if (scored.length === 0) {
    const first = rejected[0];
    throw new UserInputError(
      considered === 0 ? 'esms: the pool is empty' : `esms: none of the ${considered} ESMs could be used (first: ${first.source}: ${first.problem})`,
      'esms',
    );
  }
  scored.sort(compareRanked);
  const kept = options.top === undefined ? scored : scored.slice(0, options.top);
  const { labels } = target;
  return {
    ranking: kept.map((task, i) => ({ rank: i + 1, ...task })),
    rejected,
    target: { n: target.embeddings.rows, d: dim, task: labels.task, ...(labels.task === 'classification' ? { classes: labels.classes } : {}) },
    considered,
    scored: scored.length,
    scorer: scorer.name,
    seconds: (performance.now() - started) / 1000,
  };
}
