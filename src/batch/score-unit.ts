import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { EmbeddingSpaceMap } from '../esm/esm.js';
import type { PoolEntry } from '../esm/pool.js';
import { dimensionMismatch, type EsmScorer, NON_FINITE_SCORE } from '../rank/ranking.js';
import type { PreparedTarget } from '../rank/target.js';
import type { BatchUnitResult } from '../store/batches.js';

/**
 * Scores one prepared target against the ESMs of one shard, in the scorer's batches, with the
 * problems `rankPool` reports: an unreadable ESM, another dimension, a score that is not finite.
 * Between batches the event loop runs (queue workers renew their job locks there).
 */
export async function scoreUnit(scorer: EsmScorer, target: PreparedTarget, entries: readonly PoolEntry[], signal?: AbortSignal): Promise<BatchUnitResult> {
  const scores = new Float64Array(entries.length).fill(NaN);
  const problems: Record<number, string> = {};
  const usable: { index: number; esm: EmbeddingSpaceMap }[] = [];
  const { dim } = target.embeddings;
  entries.forEach((entry, index) => {
    if ('problem' in entry) problems[index] = entry.problem;
    else if (entry.esm.dim !== dim) problems[index] = dimensionMismatch(entry.esm.dim, dim);
    else usable.push({ index, esm: entry.esm });
  });
  const batchSize = scorer.batchSize ?? 8;
  for (let start = 0; start < usable.length; start += batchSize) {
    signal?.throwIfAborted();
    const batch = usable.slice(start, start + batchSize);
    const batchScores = await scorer.score(
      target,
      batch.map((b) => b.esm),
    );
    batch.forEach(({ index }, i) => {
      if (Number.isFinite(batchScores[i])) scores[index] = batchScores[i];
      else problems[index] = NON_FINITE_SCORE;
    });
    await yieldToEventLoop();
  }
  return { scores, problems: Object.keys(problems).length > 0 ? problems : null };
}
