import { rankingCell, rankingCsv, RANKING_COLUMNS } from '../rank/ranking-csv.js';
import type { RankingResult } from '../rank/ranking.js';

export { csvLines } from '../io/csv.js';

export const OUTPUT_FORMATS = ['table', 'json', 'csv'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Aligned columns, two spaces apart; the columns `rightAligned` names are padded on the left (numbers). */
export function textTable(headers: readonly string[], rows: readonly (readonly string[])[], rightAligned: (column: number) => boolean): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (values: readonly string[]) => values.map((v, i) => (rightAligned(i) ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

function table(result: RankingResult): string {
  const headers = ['Rank', 'Task ID', 'Subset', 'Text column', 'Label column', 'Split', 'Examples', 'Score'];
  const rows = result.ranking.map((t) => RANKING_COLUMNS.map((c) => (c === 'score' ? t.score.toFixed(6) : rankingCell(t, c))));
  return textTable(headers, rows, (i) => i === 0 || i >= 6);
}

export function formatRanking(result: RankingResult, format: OutputFormat): string {
  switch (format) {
    case 'json':
      return JSON.stringify(result, null, 2);
    case 'csv':
      return rankingCsv(result.ranking);
    case 'table':
      return table(result);
  }
}
