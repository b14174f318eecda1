import { csvLines } from '../io/csv.js';
import type { RankedTask } from './ranking.js';

/** The columns of a ranking as CSV (`esmselect rank --format csv`, batch rankings). */
export const RANKING_COLUMNS = ['rank', 'task_id', 'task_subset', 'text_column', 'label_column', 'task_split', 'num_examples', 'score'] as const;

/** A ranked task's value in a column as text: empty for null, several text columns comma-joined. */
export function rankingCell(task: RankedTask, column: (typeof RANKING_COLUMNS)[number]): string {
  const value = task[column];
  if (value === null) return '';
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}

export function rankingCsv(ranking: readonly RankedTask[]): string {
  return csvLines(
    RANKING_COLUMNS,
    ranking.map((t) => RANKING_COLUMNS.map((c) => rankingCell(t, c))),
  );
}
