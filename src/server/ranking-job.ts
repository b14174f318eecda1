import type { Registry } from '../store/database.js';
import { getRankingRun } from '../store/rankings.js';
import { executeRanking, type RankingSpec } from './execute.js';
import type { JobType } from './jobs.js';

export interface RankingJobOptions {
  readonly registry: Registry;
  readonly modelsDir: string;
  /** Called with the number of ESMs scored, for the metrics. */
  readonly onScored?: (count: number) => void;
}

/**
 * Ranking jobs: `executeRanking` on the job's stored spec and input; once succeeded, the view
 * carries the ranking run, each ranked task with what to POST to /v1/finetunes to fine-tune on it.
 */
export function rankingJobType(options: RankingJobOptions): JobType {
  const { registry } = options;
  return {
    kind: 'ranking',
    noun: 'ranking job',
    path: '/v1/rankings',
    firstStage: 'reading',
    async run({ job, inputDir, signal, progress }) {
      const { runId } = await executeRanking(job.request as unknown as RankingSpec, { registry, modelsDir: options.modelsDir, inputDir, signal, onScored: options.onScored, onProgress: progress });
      return { runId };
    },
    details(job) {
      if (job.run_id === null) return {};
      const { result } = getRankingRun(registry, job.run_id);
      return { result: { run_id: job.run_id, ...result, ranking: result.ranking.map((task) => ({ ...task, finetune: { ranking_id: job.id, rank: task.rank } })) } };
    },
  };
}
