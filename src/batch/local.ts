import type { PoolEntry } from '../esm/pool.js';
import { type EsmScorer, prepareTargetFor } from '../rank/ranking.js';
import type { PreparedTarget } from '../rank/target.js';
import type { BatchUnitResult } from '../store/batches.js';
import type { Registry } from '../store/database.js';
import { type BatchPlan, type BatchUnitRef, shardSources } from './plan.js';
import { loadShard } from './pool.js';
import { scoreUnit } from './score-unit.js';

export interface LocalRunOptions {
  readonly scorer: EsmScorer;
  /** The registry a registry pool is read from (opened when first needed). */
  readonly registry: () => Registry;
  readonly signal?: AbortSignal;
  /** Called once per finished unit, before the next starts: the place to checkpoint it. */
  readonly onUnit: (unit: BatchUnitRef, result: BatchUnitResult, seconds: number) => void;
}

/**
 * Runs the pending units on this machine, shard by shard: each shard's ESMs are read once and scored
 * against every target still missing it (the next shard is read meanwhile), so the ESM I/O is shared
 * and the work is ~targets × ESMs D×D problems. Every target is prepared once, by the scorer.
 */
export async function runLocally(plan: BatchPlan, pending: readonly BatchUnitRef[], options: LocalRunOptions): Promise<void> {
  const { scorer, signal } = options;
  const prepared = new Map<number, PreparedTarget>();
  for (const t of new Set(pending.map((u) => u.target))) {
    signal?.throwIfAborted();
    const target = plan.targets[t];
    prepared.set(t, await prepareTargetFor(scorer, target.embeddings, target.labels));
  }
  const byShard = new Map<number, number[]>();
  for (const { target, shard } of pending) byShard.set(shard, [...(byShard.get(shard) ?? []), target]);
  const shards = [...byShard.keys()];
  const load = (shard: number) => {
    const loading = loadShard(
      shardSources(plan, shard).map((s) => s.ref),
      options.registry,
    );
    // Awaited when its turn comes; this keeps a failure meanwhile from counting as unhandled.
    loading.catch(() => {});
    return loading;
  };
  let next: Promise<PoolEntry[]> | undefined = shards.length ? load(shards[0]) : undefined;
  for (const [i, shard] of shards.entries()) {
    const entries = await next!;
    next = i + 1 < shards.length ? load(shards[i + 1]) : undefined;
    for (const target of byShard.get(shard)!) {
      const started = performance.now();
      const result = await scoreUnit(scorer, prepared.get(target)!, entries, signal);
      options.onUnit({ target, shard }, result, (performance.now() - started) / 1000);
    }
  }
}
