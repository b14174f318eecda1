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

/** Aligned columns, two spaces apart; the columns `rightAligned` names are padded on the left (numbers). */
export function textTable(headers: readonly string[], rows: readonly (readonly string[])[], rightAligned: (column: number) => boolean): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (values: readonly string[]) => values.map((v, i) => (rightAligned(i) ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** One CSV file: a header line and the rows, quoted where needed. */
export function csvLines(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  return [headers, ...rows].map((row) => row.map(csvField).join(',')).join('\n');
}

function table(result: RankingResult): string {
  const headers = ['Rank', 'Task ID', 'Subset', 'Text column', 'Label column', 'Split', 'Examples', 'Score'];
  const rows = result.ranking.map((t) => COLUMNS.map((c) => (c === 'score' ? t.score.toFixed(6) : cell(t, c))));
  return textTable(headers, rows, (i) => i === 0 || i >= 6);
}

export function formatRanking(result: RankingResult, format: OutputFormat): string {
  switch (format) {
    case 'json':
      return JSON.stringify(result, null, 2);
    case 'csv':
      return csvLines(
        COLUMNS,
        result.ranking.map((t) => COLUMNS.map((c) => cell(t, c))),
      );
    case 'table':
      return table(result);
  }
}
