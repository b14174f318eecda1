import { compareRanked, describeTask, type RankedTask, type RejectedEsm } from '../rank/ranking.js';
import { type BatchUnit, batchUnitKey } from '../store/batches.js';
import { type BatchPlan, shardCount, shardSources } from './plan.js';
import type { BatchTarget } from './targets.js';

/** One target's exhaustive ranking over the pool, built from checkpointed units only. */
export interface TargetRanking {
  readonly target: BatchTarget;
  readonly ranking: RankedTask[];
  readonly rejected: RejectedEsm[];
}

/**
 * Every target's ranking from the checkpointed units of the plan, in the order `rankPool` ranks
 * (`compareRanked`: score, then task id, then source), so the same checkpoints always give the same
 * rankings whatever order the units were computed in, and on whichever machine.
 */
export function assembleRankings(plan: BatchPlan, units: readonly BatchUnit[]): TargetRanking[] {
  const byKey = new Map(units.map((u) => [batchUnitKey(u.target, u.shard), u]));
  return plan.targets.map((target) => {
    const scored: Omit<RankedTask, 'rank'>[] = [];
    const rejected: RejectedEsm[] = [];
    for (let shard = 0; shard < shardCount(plan); shard++) {
      const unit = byKey.get(batchUnitKey(target.name, shard));
      if (!unit) throw new Error(`unit ${target.name}/${shard} has not been computed`);
      shardSources(plan, shard).forEach(({ source, config, problem }, i) => {
        const score = unit.scores[i];
        if (config && Number.isFinite(score)) scored.push(describeTask(config, score, source));
        else rejected.push({ source, problem: unit.problems?.[i] ?? problem ?? 'not scored' });
      });
    }
    scored.sort(compareRanked);
    return { target, ranking: scored.map((task, i) => ({ rank: i + 1, ...task })), rejected };
  });
}

/** A column of the summary: one source task that made some target's top. */
export interface SummaryColumn {
  readonly source: string;
  /** Short and unique among the columns: the task id (and subset), the source added where two share it. */
  readonly label: string;
}

/** Targets × top sources: for each target, the rank and score of every source that is in some target's top `top`. */
export interface SummaryMatrix {
  readonly top: number;
  readonly columns: SummaryColumn[];
  readonly rows: { readonly target: string; readonly cells: ({ readonly rank: number; readonly score: number } | null)[] }[];
}

function taskLabel(task: RankedTask): string {
  return task.task_subset ? `${task.task_id}:${task.task_subset}` : task.task_id;
}

/**
 * The union of every target's top `top` sources, most often in a top first (then by mean rank, then
 * label): the sources that matter across targets come first.
 */
export function summaryMatrix(rankings: readonly TargetRanking[], top: number): SummaryMatrix {
  const byTarget = rankings.map((r) => new Map(r.ranking.map((task) => [task.source, task])));
  const chosen = new Map<string, RankedTask>();
  for (const r of rankings) for (const task of r.ranking.slice(0, top)) if (!chosen.has(task.source)) chosen.set(task.source, task);
  const stats = [...chosen.values()].map((task) => {
    const ranks = byTarget.map((m) => m.get(task.source)?.rank ?? Infinity);
    return { task, inTop: ranks.filter((r) => r <= top).length, meanRank: ranks.reduce((a, b) => a + b, 0) / ranks.length, label: taskLabel(task) };
  });
  stats.sort(
    (a, b) => b.inTop - a.inTop || a.meanRank - b.meanRank || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0) || (a.task.source < b.task.source ? -1 : 1),
  );
  const labelCounts = new Map<string, number>();
  for (const s of stats) labelCounts.set(s.label, (labelCounts.get(s.label) ?? 0) + 1);
  const columns = stats.map((s) => ({ source: s.task.source, label: labelCounts.get(s.label)! > 1 ? `${s.label} (${s.task.source})` : s.label }));
  return {
    top,
    columns,
    rows: rankings.map((r, i) => ({
      target: r.target.name,
      cells: columns.map(({ source }) => {
        const task = byTarget[i].get(source);
        return task ? { rank: task.rank, score: task.score } : null;
      }),
    })),
  };
}
