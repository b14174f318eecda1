import type { BatchPlan } from './plan.js';
import type { SummaryMatrix, TargetRanking } from './results.js';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

const CELL_WIDTH = 34;
const CELL_HEIGHT = 24;
const LABEL_MAX = 36;
/** Roughly the advance of one 12 px sans-serif character, to size the label margins. */
const CHAR_WIDTH = 7;

/** Rank 1 is darkest; the colour lightens linearly up to rank `top` (sRGB blend of two blues). */
function rankColour(rank: number, top: number): { fill: string; text: string } {
  if (rank > top) return { fill: '#f2f2f2', text: '#666' };
  const t = top === 1 ? 0 : (rank - 1) / (top - 1);
  const [dark, light] = [
    [8, 48, 107],
    [198, 219, 239],
  ];
  const mix = dark.map((d, i) => Math.round(d + (light[i] - d) * t));
  return { fill: `rgb(${mix.join(',')})`, text: t < 0.55 ? '#fff' : '#0b1f3a' };
}

/** The targets × top-sources matrix as an SVG heat-map: a cell per (target, source), coloured by rank. */
function heatmapSvg(matrix: SummaryMatrix): string {
  const rowLabel = Math.max(...matrix.rows.map((r) => r.target.length), 6) * CHAR_WIDTH + 12;
  const columnLabel = Math.min(LABEL_MAX, Math.max(...matrix.columns.map((c) => c.label.length), 6)) * CHAR_WIDTH * 0.72 + 16;
  // The labels lean right at 45°: as much room again to the right as they are tall.
  const width = rowLabel + matrix.columns.length * CELL_WIDTH + columnLabel;
  const height = columnLabel + matrix.rows.length * CELL_HEIGHT + 4;
  const parts: string[] = [];
  matrix.columns.forEach((column, j) => {
    const x = rowLabel + j * CELL_WIDTH + CELL_WIDTH / 2;
    parts.push(
      `<text class="col" transform="translate(${x + 4},${columnLabel - 6}) rotate(-45)"><title>${escapeHtml(column.source)}</title>${escapeHtml(shorten(column.label, LABEL_MAX))}</text>`,
    );
  });
  matrix.rows.forEach((row, i) => {
    const y = columnLabel + i * CELL_HEIGHT;
    parts.push(`<text class="row" x="${rowLabel - 8}" y="${y + CELL_HEIGHT / 2 + 4}">${escapeHtml(row.target)}</text>`);
    row.cells.forEach((cell, j) => {
      const x = rowLabel + j * CELL_WIDTH;
      const label = matrix.columns[j].label;
      if (!cell) {
        parts.push(
          `<rect x="${x}" y="${y}" width="${CELL_WIDTH - 1}" height="${CELL_HEIGHT - 1}" fill="#fff" stroke="#ddd"><title>${escapeHtml(`${row.target} × ${label}: not scored`)}</title></rect>`,
        );
        return;
      }
      const { fill, text } = rankColour(cell.rank, matrix.top);
      const title = `${row.target} × ${label}: rank ${cell.rank}, score ${cell.score.toFixed(4)}`;
      parts.push(
        `<g><title>${escapeHtml(title)}</title><rect x="${x}" y="${y}" width="${CELL_WIDTH - 1}" height="${CELL_HEIGHT - 1}" fill="${fill}"/>` +
          `<text class="cell" x="${x + (CELL_WIDTH - 1) / 2}" y="${y + CELL_HEIGHT / 2 + 4}" fill="${text}">${cell.rank > 9999 ? '…' : cell.rank}</text></g>`,
      );
    });
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="heat-map of ranks">${parts.join('')}</svg>`;
}

function legendSvg(top: number): string {
  const steps = Math.min(top, 10);
  const ranks = Array.from({ length: steps }, (_, i) => Math.round(1 + ((top - 1) * i) / Math.max(steps - 1, 1)));
  const cells = ranks.map((rank, i) => {
    const { fill, text } = rankColour(rank, top);
    return `<rect x="${i * CELL_WIDTH}" y="0" width="${CELL_WIDTH - 1}" height="${CELL_HEIGHT - 1}" fill="${fill}"/><text class="cell" x="${i * CELL_WIDTH + (CELL_WIDTH - 1) / 2}" y="${CELL_HEIGHT / 2 + 4}" fill="${text}">${rank}</text>`;
  });
  const beyond = rankColour(top + 1, top);
  const x = steps * CELL_WIDTH + 12;
  cells.push(
    `<rect x="${x}" y="0" width="${CELL_WIDTH * 2 - 1}" height="${CELL_HEIGHT - 1}" fill="${beyond.fill}"/><text class="cell" x="${x + CELL_WIDTH - 0.5}" y="${CELL_HEIGHT / 2 + 4}" fill="${beyond.text}">&gt;${top}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${x + CELL_WIDTH * 2}" height="${CELL_HEIGHT}" role="img" aria-label="colour legend">${cells.join('')}</svg>`;
}

const STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1f24; margin: 2rem auto; max-width: 1200px; padding: 0 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 .3rem; } h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; border-bottom: 1px solid #e3e6ea; padding-bottom: .25rem; }
.meta { color: #57606a; margin: 0; } .note { color: #57606a; margin: .25rem 0 .75rem; }
.scroll { overflow-x: auto; border: 1px solid #e3e6ea; border-radius: 6px; padding: .5rem; background: #fff; }
svg text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
svg text.row { text-anchor: end; fill: #1b1f24; } svg text.col { fill: #1b1f24; } svg text.cell { text-anchor: middle; font-size: 11px; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; width: 100%; margin: .25rem 0 1rem; } th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #eef0f2; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
details { margin: .3rem 0; } summary { cursor: pointer; font-weight: 600; } code { font-size: 12px; color: #57606a; word-break: break-all; }
.legend { display: flex; align-items: center; gap: .75rem; margin-top: .5rem; color: #57606a; }
`;

function targetsTable(rankings: readonly TargetRanking[]): string {
  const rows = rankings.map(({ target, ranking, rejected }) => {
    const best = ranking[0];
    const classes = target.labels.task === 'classification' ? String(target.labels.classes.length) : '–';
    return `<tr><td>${escapeHtml(target.name)}</td><td>${target.task}</td><td class="num">${target.embeddings.rows}</td><td class="num">${target.embeddings.dim}</td><td class="num">${classes}</td><td class="num">${ranking.length}</td><td class="num">${rejected.length}</td><td>${best ? escapeHtml(best.task_id) : '–'}</td><td class="num">${best ? best.score.toFixed(4) : '–'}</td></tr>`;
  });
  return `<table><thead><tr><th>target</th><th>task</th><th class="num">N</th><th class="num">D</th><th class="num">classes</th><th class="num">scored</th><th class="num">rejected</th><th>best source</th><th class="num">best score</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function topLists(rankings: readonly TargetRanking[], top: number): string {
  return rankings
    .map(({ target, ranking, rejected }) => {
      const rows = ranking
        .slice(0, top)
        .map(
          (t) =>
            `<tr><td class="num">${t.rank}</td><td>${escapeHtml(t.task_id)}</td><td>${escapeHtml(t.task_subset ?? '')}</td><td class="num">${t.score.toFixed(6)}</td><td><code>${escapeHtml(t.source)}</code></td></tr>`,
        )
        .join('');
      const skipped = rejected.length
        ? `<p class="note">Not scored: ${rejected.map((r) => `<code>${escapeHtml(r.source)}</code> (${escapeHtml(r.problem)})`).join('; ')}</p>`
        : '';
      return `<details><summary>${escapeHtml(target.name)}</summary><table><thead><tr><th class="num">rank</th><th>task</th><th>subset</th><th class="num">score</th><th>source</th></tr></thead><tbody>${rows}</tbody></table>${skipped}</details>`;
    })
    .join('');
}

/**
 * The batch as one self-contained HTML page (inline CSS and SVG, no scripts, nothing fetched): the
 * heat-map of ranks, the targets with their best source, and each target's top list. It depends only
 * on the plan and the rankings, so it is byte-identical for the same checkpoints.
 */
export function batchReportHtml(plan: BatchPlan, rankings: readonly TargetRanking[], matrix: SummaryMatrix): string {
  const targets = `${plan.targets.length} target${plan.targets.length === 1 ? '' : 's'}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>esmselect batch ranking: ${targets} × ${plan.sources.length} ESMs</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Batch ranking</h1>
<p class="meta">${targets} × ${plan.sources.length} source ESMs (exhaustive ESM-LogME) · scorer ${escapeHtml(plan.scorer)} · plan <code>${plan.fingerprint.slice(0, 12)}</code></p>
<h2>Top sources across targets</h2>
<p class="note">Columns: every source task in some target's top ${matrix.top}, those in the most targets' tops first. Each cell is the source's rank for that target (1 = best; darker = better); hover for the score. Scores are not comparable across targets, ranks are.</p>
<div class="scroll">${heatmapSvg(matrix)}</div>
<div class="legend"><span>rank</span>${legendSvg(matrix.top)}</div>
<h2>Targets</h2>
${targetsTable(rankings)}
<h2>Top ${matrix.top} per target</h2>
${topLists(rankings, matrix.top)}
</body>
</html>
`;
}
