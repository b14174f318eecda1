import type { RankedTask, RankingResult } from '../rank/ranking.js';

export const OUTPUT_FORMATS = ['table', 'json', 'csv'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

const COLUMNS = ['rank', 'task_id', 'task_subset', 'text_column', 'label_column', 'task_split', 'num_examples', 'score'] as const;

function cell(task: RankedTask, column: (typeof COLUMNS)[number]): string {
  const value = task[column];
  if (value === null) return '';
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}

function csvField(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function table(result: RankingResult): string {
  const headers = ['Rank', 'Task ID', 'Subset', 'Text column', 'Label column', 'Split', 'Examples', 'Score'];
  const rows = result.ranking.map((t) => COLUMNS.map((c) => (c === 'score' ? t.score.toFixed(6) : cell(t, c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (values: string[]) => values.map((v, i) => (i === 0 || i >= 6 ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function formatRanking(result: RankingResult, format: OutputFormat): string {
  switch (format) {
    case 'json':
      return JSON.stringify(result, null, 2);
    case 'csv':
      return [COLUMNS.join(','), ...result.ranking.map((t) => COLUMNS.map((c) => csvField(cell(t, c))).join(','))].join('\n');
    case 'table':
      return table(result);
  }
}
