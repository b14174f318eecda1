import type { Registry } from '../store/database.js';
import { getRankingRun } from '../store/rankings.js';
import type { RankingSpec } from './ranking.js';
import type { JobType } from './runner.js';
import type { WorkerPool } from './worker-pool.js';

export interface RankingJobOptions {
  readonly registry: Registry;
  readonly modelsDir: string;
  /** Where the jobs run: their reading, tokenising, embedding and scoring never hold up the event loop. */
  readonly workers: WorkerPool;
  /** Called with the number of ESMs scored, for the metrics. */
  readonly onScored?: (count: number) => void;
}

/**
 * Ranking jobs: `executeRanking` on the job's stored spec and input, on a worker thread; once
 * succeeded, the view carries the ranking run, each ranked task with what to POST to /v1/finetunes
 * to fine-tune on it.
 */
export function rankingJobType(options: RankingJobOptions): JobType {
  const { registry } = options;
  return {
    kind: 'ranking',
    noun: 'ranking job',
    firstStage: 'reading',
    async run({ job, inputDir, signal, progress }) {
      const { runId, scored } = await options.workers.rank(job.request as unknown as RankingSpec, {
        dataDir: registry.dataDir,
        modelsDir: options.modelsDir,
        inputDir,
        signal,
        onProgress: progress,
      });
      options.onScored?.(scored);
      return { runId };
    },
    details(job) {
      if (job.run_id === null) return {};
      const { result } = getRankingRun(registry, job.run_id);
      return {
        result: { run_id: job.run_id, ...result, ranking: result.ranking.map((task) => ({ ...task, finetune: { ranking_id: job.id, rank: task.rank } })) },
      };
    },
  };
}
