import type { Registry } from './database.js';

/** A batch run as the registry keeps it: one per output directory, bound to one plan. */
export interface BatchRun {
  readonly id: number;
  readonly out_dir: string;
  /** The plan's fingerprint: the run is resumed only under a plan with the same one. */
  readonly fingerprint: string;
  /** What the plan was (targets, pool, shard size, scorer), to say what changed on a mismatch. */
  readonly plan: Record<string, unknown>;
  readonly created_at: string;
  readonly finished_at: string | null;
}

/** One finished (target, shard) unit: a score per ESM of the shard, in pool order. */
export interface BatchUnitResult {
  /** NaN where the ESM was rejected; `problems` says why. */
  readonly scores: Float64Array;
  /** By position in the shard; null when every ESM was scored. */
  readonly problems: Readonly<Record<number, string>> | null;
}

export interface BatchUnit extends BatchUnitResult {
  readonly target: string;
  readonly shard: number;
  /** Who computed it: `local`, or the queue worker's name. */
  readonly worker: string;
  readonly seconds: number;
}

type RunRow = Omit<BatchRun, 'plan'> & { plan: string };
type UnitRow = { target: string; shard: number; scores: Buffer; problems: string | null; worker: string; seconds: number };

const NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

function toRun(row: RunRow): BatchRun {
  return { ...row, plan: JSON.parse(row.plan) as Record<string, unknown> };
}

export function findBatchRun(registry: Registry, outDir: string): BatchRun | undefined {
  const row = registry.db.prepare('SELECT * FROM batch_runs WHERE out_dir = ?').get(outDir) as RunRow | undefined;
  return row && toRun(row);
}

/**
 * The run of an output directory under the given plan: created when there is none, resumed when
 * there is one of the same plan. `restart` discards an existing run and its units; without it, a run
 * of another plan comes back as a conflict, for the caller to explain.
 */
export function openBatchRun(
  registry: Registry,
  input: { outDir: string; fingerprint: string; plan: Record<string, unknown> },
  restart: boolean,
): { run: BatchRun; conflict: boolean } {
  return registry.write(() => {
    const existing = findBatchRun(registry, input.outDir);
    if (existing && !restart) return { run: existing, conflict: existing.fingerprint !== input.fingerprint };
    if (existing) registry.db.prepare('DELETE FROM batch_runs WHERE id = ?').run(existing.id);
    registry.db
      .prepare('INSERT INTO batch_runs (out_dir, fingerprint, plan) VALUES (?, ?, ?)')
      .run(input.outDir, input.fingerprint, JSON.stringify(input.plan));
    return { run: findBatchRun(registry, input.outDir)!, conflict: false };
  });
}

/** `target/shard` of every unit already checkpointed. */
export function completedBatchUnits(registry: Registry, runId: number): Set<string> {
  const rows = registry.db.prepare('SELECT target, shard FROM batch_units WHERE run_id = ?').all(runId) as { target: string; shard: number }[];
  return new Set(rows.map((r) => batchUnitKey(r.target, r.shard)));
}

export function batchUnitKey(target: string, shard: number): string {
  return `${target}/${shard}`;
}

/**
 * Checkpoints one unit in one transaction. Idempotent: a unit already there (a queue job delivered
 * twice, or two processes on one run) is left as it is, and the call says it wrote nothing.
 */
export function saveBatchUnit(registry: Registry, runId: number, unit: BatchUnit): 'saved' | 'duplicate' {
  const bytes = Buffer.from(unit.scores.buffer, unit.scores.byteOffset, unit.scores.byteLength);
  const problems = unit.problems && Object.keys(unit.problems).length > 0 ? JSON.stringify(unit.problems) : null;
  const { changes } = registry.write(() =>
    registry.db
      .prepare('INSERT INTO batch_units (run_id, target, shard, scores, problems, worker, seconds) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING')
      .run(runId, unit.target, unit.shard, bytes, problems, unit.worker, unit.seconds),
  );
  return changes > 0 ? 'saved' : 'duplicate';
}

/** Every checkpointed unit of a run, by target and shard. */
export function readBatchUnits(registry: Registry, runId: number): BatchUnit[] {
  const rows = registry.db
    .prepare('SELECT target, shard, scores, problems, worker, seconds FROM batch_units WHERE run_id = ? ORDER BY target, shard')
    .all(runId) as UnitRow[];
  return rows.map((row) => {
    // A copy: the Float64Array needs an aligned buffer, which a BLOB's Buffer need not be.
    const scores = new Float64Array(row.scores.byteLength / 8);
    new Uint8Array(scores.buffer).set(row.scores);
    return {
      target: row.target,
      shard: row.shard,
      scores,
      problems: row.problems === null ? null : (JSON.parse(row.problems) as Record<number, string>),
      worker: row.worker,
      seconds: row.seconds,
    };
  });
}

export function finishBatchRun(registry: Registry, runId: number): void {
  registry.write(() => registry.db.prepare(`UPDATE batch_runs SET finished_at = ${NOW} WHERE id = ?`).run(runId));
}
