import { csvLines } from '../io/csv.js';
import type { RankingResult } from '../rank/ranking.js';
import { RANKING_COLUMNS, rankingCell, rankingCsv } from '../rank/ranking-csv.js';
import type { TwoStageRankingResult } from '../rank/two-stage.js';

export { csvLines };

export const OUTPUT_FORMATS = ['table', 'json', 'csv'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Aligned columns, two spaces apart; the columns `rightAligned` names are padded on the left (numbers). */
export function textTable(headers: readonly string[], rows: readonly (readonly string[])[], rightAligned: (column: number) => boolean): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (rightAligned(i) ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** The first-stage similarities of a two-stage ranking (a column of their own), or null for one stage. */
function similarities(result: RankingResult | TwoStageRankingResult): (number | null)[] | null {
  if (!('stages' in result) || result.stages.first === null) return null;
  return result.ranking.map((t) => t.similarity);
}

function table(result: RankingResult | TwoStageRankingResult): string {
  const headers = ['Rank', 'Task ID', 'Subset', 'Text column', 'Label column', 'Split', 'Examples', 'Score'];
  const rows = result.ranking.map((t) => RANKING_COLUMNS.map((c) => (c === 'score' ? t.score.toFixed(6) : rankingCell(t, c))));
  const similarity = similarities(result);
  if (similarity) {
    headers.push('Stage-1 similarity');
    rows.forEach((row, i) => row.push(similarity[i] === null ? 'unindexed' : similarity[i]!.toFixed(4)));
  }
  return textTable(headers, rows, (i) => i === 0 || i >= 6);
}

export function formatRanking(result: RankingResult | TwoStageRankingResult, format: OutputFormat): string {
  switch (format) {
    case 'json':
      return JSON.stringify(result, null, 2);
    case 'csv': {
      const similarity = similarities(result);
      if (!similarity) return rankingCsv(result.ranking);
      return csvLines(
        [...RANKING_COLUMNS, 'similarity'],
        result.ranking.map((t, i) => [...RANKING_COLUMNS.map((c) => rankingCell(t, c)), similarity[i] === null ? '' : String(similarity[i])]),
      );
    }
    case 'table':
      return table(result);
  }
}
