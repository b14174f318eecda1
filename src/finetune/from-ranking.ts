import { UserInputError } from '../errors.js';
import type { RankingResult } from '../rank/ranking.js';

/** The source task a ranking entry stands for, as a fine-tuning request needs it. */
export interface RankedSource {
  readonly rank: number;
  readonly taskId: string;
  readonly subset: string | null;
  readonly split: string | null;
  readonly textColumn: string | string[] | null;
  readonly labelColumn: string | null;
  /** The base model the ESM was trained for: the fine-tune must start from it for the ranking to hold. */
  readonly baseModelName: string;
}

/**
 * "Fine-tune with this source": the source task at `rank` (1-based) of a ranking. The HTTP API
 * takes a ranking id and a rank; the server looks the ranking up and resolves the task's dataset.
 */
export function sourceFromRanking(result: RankingResult, rank: number): RankedSource {
  const entry = result.ranking.find((t) => t.rank === rank);
  if (!entry) {
    const ranks = result.ranking.length ? `1 to ${result.ranking.length}` : 'none: the ranking is empty';
    throw new UserInputError(`rank: ${rank} is not in the ranking (ranks: ${ranks})`, 'rank');
  }
  return {
    rank,
    taskId: entry.task_id,
    subset: entry.task_subset,
    split: entry.task_split,
    textColumn: entry.text_column,
    labelColumn: entry.label_column,
    baseModelName: entry.base_model_name,
  };
}
