import { UserInputError } from '../errors.js';
import { sha256Hex } from '../store/files.js';
import type { PlannedSource } from './pool.js';
import type { BatchTarget } from './targets.js';

/** ESMs per shard by default: a shard's ESMs are read once and scored against every target (~150 MB at D = 768). */
export const DEFAULT_SHARD_SIZE = 64;

/**
 * The work of a batch: every target against every ESM of the pool, cut into (target, shard) units.
 * The fingerprint covers everything that decides the results (targets' contents and names, the
 * pool's ESMs as planned, the shard size, the scorer), so checkpoints are reused only for the same plan.
 */
export interface BatchPlan {
  readonly targets: readonly BatchTarget[];
  readonly sources: readonly PlannedSource[];
  readonly shardSize: number;
  /** The scorer's name (`native`, `typescript`, `tfjs`): scores of different scorers differ in the last bits. */
  readonly scorer: string;
  readonly fingerprint: string;
}

export interface BatchUnitRef {
  readonly target: number;
  readonly shard: number;
}

function stampOf(source: PlannedSource): string {
  return 'folder' in source.ref ? source.ref.stamp : source.ref.identity;
}

function poolFingerprint(sources: readonly PlannedSource[]): string {
  return sha256Hex(JSON.stringify(sources.map((s) => [s.source, stampOf(s)])));
}

export function planBatch(targets: readonly BatchTarget[], sources: readonly PlannedSource[], options: { shardSize: number; scorer: string }): BatchPlan {
  if (sources.length === 0) throw new UserInputError('esms: the pool is empty', 'esms');
  if (!Number.isSafeInteger(options.shardSize) || options.shardSize < 1) throw new UserInputError('shard size: must be a positive integer', 'shard_size');
  const dims = new Set(sources.flatMap((s) => (s.config ? [s.config.esm_embedding_dim] : [])));
  for (const target of targets) {
    if (!dims.has(target.embeddings.dim)) {
      throw new UserInputError(
        `targets: ${target.name}: its embeddings have dimension ${target.embeddings.dim}, but no ESM of the pool does (the pool's: ${[...dims].sort((a, b) => a - b).join(', ') || 'none readable'})`,
        'targets',
      );
    }
  }
  const fingerprint = sha256Hex(
    JSON.stringify({
      format: 'esmselect-batch-plan-v1',
      targets: targets.map((t) => [t.name, t.fingerprint]),
      pool: poolFingerprint(sources),
      shard_size: options.shardSize,
      scorer: options.scorer,
    }),
  );
  return { targets, sources, shardSize: options.shardSize, scorer: options.scorer, fingerprint };
}

export function shardCount(plan: BatchPlan): number {
  return Math.ceil(plan.sources.length / plan.shardSize);
}

export function shardSources(plan: BatchPlan, shard: number): readonly PlannedSource[] {
  return plan.sources.slice(shard * plan.shardSize, (shard + 1) * plan.shardSize);
}

/** Every unit, shard by shard: the order that reads each shard once for all targets. */
export function planUnits(plan: BatchPlan): BatchUnitRef[] {
  return Array.from({ length: shardCount(plan) }, (_, shard) => plan.targets.map((_, target) => ({ target, shard }))).flat();
}

/** What the registry keeps of a plan, to say later what changed. */
export function describePlan(plan: BatchPlan): Record<string, unknown> {
  return {
    targets: Object.fromEntries(plan.targets.map((t) => [t.name, t.fingerprint])),
    esms: plan.sources.length,
    pool: poolFingerprint(plan.sources),
    shard_size: plan.shardSize,
    scorer: plan.scorer,
  };
}

/** One line on how a stored plan differs from this one. */
export function planDifference(stored: Record<string, unknown>, plan: BatchPlan): string {
  const now = describePlan(plan);
  const changes: string[] = [];
  const before = (stored.targets ?? {}) as Record<string, string>;
  const after = now.targets as Record<string, string>;
  const names = (pick: (name: string) => boolean, keys: string[]) =>
    keys
      .filter(pick)
      .map((n) => `"${n}"`)
      .join(', ');
  const added = names((n) => !(n in before), Object.keys(after));
  const removed = names((n) => !(n in after), Object.keys(before));
  const changed = names((n) => n in before && before[n] !== after[n], Object.keys(after));
  if (added) changes.push(`targets added: ${added}`);
  if (removed) changes.push(`targets removed: ${removed}`);
  if (changed) changes.push(`targets changed: ${changed}`);
  if (!added && !removed && !changed && Object.keys(before).join() !== Object.keys(after).join()) changes.push('targets reordered');
  if (stored.pool !== now.pool) changes.push(`the pool changed (${String(stored.esms)} ESMs before, ${plan.sources.length} now)`);
  if (stored.shard_size !== now.shard_size) changes.push(`shard size ${String(stored.shard_size)} before, ${plan.shardSize} now`);
  if (stored.scorer !== now.scorer) changes.push(`scorer ${String(stored.scorer)} before, ${plan.scorer} now`);
  return changes.join('; ') || 'the plan changed';
}
