import { batchUnitKey } from '../store/batches.js';
import { type BatchPlan, type BatchUnitRef, shardCount, shardSources } from './plan.js';

export interface Count {
  readonly done: number;
  readonly total: number;
}

/** Where a batch stands; `pairs` are (target, ESM) problems, the unit of work and of the rate. */
export interface BatchProgress {
  readonly units: Count;
  readonly pairs: Count;
  /** Targets whose every shard is done. */
  readonly targets: Count;
  /** Pairs computed by this run (not found checkpointed at its start): what a rate divides. */
  readonly pairsThisRun: number;
}

/** Counts finished units of a plan, starting from those already checkpointed. */
export class BatchProgressTracker {
  private unitsDone = 0;
  private pairsDone = 0;
  private pairsThisRun = 0;
  private readonly shardsLeft: number[];
  private readonly pairsTotal: number;

  constructor(
    private readonly plan: BatchPlan,
    completed: ReadonlySet<string>,
  ) {
    const shards = shardCount(plan);
    this.pairsTotal = plan.targets.length * plan.sources.length;
    this.shardsLeft = plan.targets.map(() => shards);
    plan.targets.forEach((target, t) => {
      for (let shard = 0; shard < shards; shard++) if (completed.has(batchUnitKey(target.name, shard))) this.count({ target: t, shard });
    });
  }

  private count(unit: BatchUnitRef): number {
    const pairs = shardSources(this.plan, unit.shard).length;
    this.unitsDone++;
    this.pairsDone += pairs;
    this.shardsLeft[unit.target]--;
    return pairs;
  }

  /** Counts a unit this run computed (or merged). */
  complete(unit: BatchUnitRef): BatchProgress {
    this.pairsThisRun += this.count(unit);
    return this.progress();
  }

  progress(): BatchProgress {
    const { targets } = this.plan;
    return {
      units: { done: this.unitsDone, total: targets.length * shardCount(this.plan) },
      pairs: { done: this.pairsDone, total: this.pairsTotal },
      targets: { done: this.shardsLeft.filter((left) => left === 0).length, total: targets.length },
      pairsThisRun: this.pairsThisRun,
    };
  }
}
