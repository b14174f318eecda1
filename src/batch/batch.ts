import { resolve } from 'node:path';
import { UserInputError } from '../errors.js';
import type { EsmScorer } from '../rank/ranking.js';
import { selectScorer } from '../rank/scorers.js';
import { batchUnitKey, completedBatchUnits, finishBatchRun, openBatchRun, readBatchUnits, saveBatchUnit } from '../store/batches.js';
import type { Registry } from '../store/database.js';
import { RegistryEmbeddingCache } from '../store/embedding-cache.js';
import type { EsmFilter } from '../store/esms.js';
import type { TaskType } from '../task/labels.js';
import { runLocally } from './local.js';
import { type ManifestTarget, readManifest } from './manifest.js';
import { DEFAULT_SUMMARY_TOP, writeBatchOutputs } from './outputs.js';
import { type BatchUnitRef, DEFAULT_SHARD_SIZE, describePlan, planBatch, planDifference, planUnits, shardCount } from './plan.js';
import { folderSources, registrySources } from './pool.js';
import { type BatchProgress, BatchProgressTracker } from './progress.js';
import { checkReachable, runOnQueue } from './queue.js';
import { assembleRankings } from './results.js';
import { type BatchTarget, loadBatchTarget, type TargetOrigin } from './targets.js';

export interface BatchRankOptions {
  /** A manifest file (YAML or JSONL, see `readManifest`), or its targets. */
  readonly targets: string | readonly ManifestTarget[];
  /** ESM folders (or directories searched for them), or the registered ESMs matching a filter. */
  readonly esms: { readonly folders: readonly string[] } | { readonly registry: EsmFilter };
  /** The output directory; its checkpoints (in the registry) are resumed when the plan is the same. */
  readonly out: string;
  /** Holds the checkpoints and the embedding cache (and the pool, for registry ESMs). */
  readonly registry: Registry;
  /** Default: `selectScorer()`. */
  readonly scorer?: EsmScorer;
  readonly shardSize?: number;
  /** Sources per target in the summary and the report. */
  readonly top?: number;
  /** Discard the output directory's checkpoints and start over (needed after the targets or the pool changed). */
  readonly restart?: boolean;
  /** `redis://HOST:PORT`: hand the units to `esmselect worker`s through BullMQ instead of computing them here. */
  readonly queue?: string;
  /** Stops after the unit in hand (checkpointed units stay; the same call continues). */
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: BatchEvent) => void;
}

export type BatchEvent =
  | { readonly type: 'embedding'; readonly target: string; readonly done: number; readonly total: number }
  | { readonly type: 'target'; readonly target: string; readonly origin: TargetOrigin; readonly rows: number; readonly dim: number; readonly task: TaskType }
  | {
      readonly type: 'plan';
      readonly fingerprint: string;
      readonly targets: number;
      readonly esms: number;
      readonly shards: number;
      readonly progress: BatchProgress;
    }
  | { readonly type: 'queued'; readonly added: number; readonly waiting: number }
  | { readonly type: 'progress'; readonly progress: BatchProgress; readonly worker: string }
  | { readonly type: 'duplicate'; readonly target: string; readonly shard: number; readonly worker: string };

export interface BatchRankResult {
  readonly outDir: string;
  readonly fingerprint: string;
  readonly targets: number;
  readonly esms: number;
  readonly units: number;
  /** Units computed by this call (the rest were checkpointed before). */
  readonly computed: number;
  /** (target, ESM) pairs computed by this call. */
  readonly pairs: number;
  readonly scorer: string;
  /** Files written, relative to `outDir`. */
  readonly files: string[];
}

/**
 * Ranks the whole pool for every target of a manifest (exhaustive ESM-LogME), resumably: the work is
 * cut into (target, pool shard) units, each checkpointed in the registry as it finishes, and a
 * later call with the same plan and output directory skips the checkpointed units (targets embedded
 * from dataset files come from the embedding cache, so nothing is embedded twice). The outputs
 * (`writeBatchOutputs`) are made from the checkpoints alone, so an interrupted-and-resumed batch and an
 * uninterrupted one write the same bytes, as do a local and a distributed run (`queue`).
 */
export async function batchRank(options: BatchRankOptions): Promise<BatchRankResult> {
  const { registry } = options;
  const emit = options.onEvent ?? (() => {});
  // Before anything is read or embedded: a wrong --queue is a one-line error at once.
  if (options.queue) await checkReachable(options.queue);
  const manifest = typeof options.targets === 'string' ? await readManifest(options.targets) : options.targets;
  // The pool before the targets: a wrong --esms fails before anything is embedded.
  const sources = 'folders' in options.esms ? await folderSources(options.esms.folders) : registrySources(registry, options.esms.registry);
  const scorer = options.scorer ?? (await selectScorer()).scorer;
  const cache = new RegistryEmbeddingCache(registry);
  const targets: BatchTarget[] = [];
  for (const entry of manifest) {
    options.signal?.throwIfAborted();
    const { target, origin } = await loadBatchTarget(entry, { cache, onEmbedProgress: (p) => emit({ type: 'embedding', target: entry.name, ...p }) });
    emit({ type: 'target', target: target.name, origin, rows: target.embeddings.rows, dim: target.embeddings.dim, task: target.task });
    targets.push(target);
  }
  const plan = planBatch(targets, sources, { shardSize: options.shardSize ?? DEFAULT_SHARD_SIZE, scorer: scorer.name });
  const outDir = resolve(options.out);
  const { run, conflict } = openBatchRun(registry, { outDir, fingerprint: plan.fingerprint, plan: describePlan(plan) }, options.restart ?? false);
  if (conflict) {
    throw new UserInputError(
      `out: ${outDir} holds checkpoints of another batch (${planDifference(run.plan, plan)}); use --restart to discard them, or another --out`,
      'out',
    );
  }

  const completed = completedBatchUnits(registry, run.id);
  const pending = planUnits(plan).filter((u) => !completed.has(batchUnitKey(plan.targets[u.target].name, u.shard)));
  const tracker = new BatchProgressTracker(plan, completed);
  emit({ type: 'plan', fingerprint: plan.fingerprint, targets: targets.length, esms: sources.length, shards: shardCount(plan), progress: tracker.progress() });
  const merge = (unit: BatchUnitRef, result: { scores: Float64Array; problems: Readonly<Record<number, string>> | null }, worker: string, seconds: number) => {
    const target = plan.targets[unit.target].name;
    const outcome = saveBatchUnit(registry, run.id, { target, shard: unit.shard, ...result, worker, seconds });
    if (outcome === 'saved') emit({ type: 'progress', progress: tracker.complete(unit), worker });
    else emit({ type: 'duplicate', target, shard: unit.shard, worker });
  };
  if (pending.length > 0) {
    if (options.queue) {
      await runOnQueue(plan, pending, { url: options.queue, signal: options.signal, onUnit: merge, onQueued: (q) => emit({ type: 'queued', ...q }) });
    } else {
      await runLocally(plan, pending, {
        scorer,
        registry: () => registry,
        signal: options.signal,
        onUnit: (unit, result, seconds) => merge(unit, result, 'local', seconds),
      });
    }
  }

  const rankings = assembleRankings(plan, readBatchUnits(registry, run.id));
  const files = await writeBatchOutputs(outDir, plan, rankings, options.top ?? DEFAULT_SUMMARY_TOP);
  finishBatchRun(registry, run.id);
  const progress = tracker.progress();
  return {
    outDir,
    fingerprint: plan.fingerprint,
    targets: targets.length,
    esms: sources.length,
    units: progress.units.total,
    computed: pending.length,
    pairs: progress.pairsThisRun,
    scorer: scorer.name,
    files,
  };
}
