/** Scatter plots as self-contained SVG (no plotting dependency): one panel per method, one colour per series. */

export interface ScatterPoint {
  readonly x: number;
  readonly y: number;
  /** Index into the plot's series (its colour and legend entry). */
  readonly series: number;
}

export interface ScatterPanel {
  readonly title: string;
  readonly points: readonly ScatterPoint[];
}

export interface ScatterOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly string[];
  /** Draw a dashed horizontal line at y = 0. */
  readonly zeroLine?: boolean;
}

/** Tableau 10, distinguishable and colour-blind friendlier than a rainbow. */
const COLOURS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

const PANEL = { width: 300, height: 240, left: 48, right: 12, top: 28, bottom: 40 };

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Round tick values covering [low, high] (1, 2 or 5 × 10ⁿ apart), about `count` of them. */
function niceTicks(low: number, high: number, count = 5): number[] {
  if (!(high > low)) return [low];
  const raw = (high - low) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = Math.ceil(low / step) * step; v <= high + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function extent(values: readonly number[]): [number, number] {
  let low = Math.min(...values);
  let high = Math.max(...values);
  if (low === high) {
    low -= 1;
    high += 1;
  }
  const pad = (high - low) * 0.06;
  return [low - pad, high + pad];
}

const format = (v: number) => String(Number(v.toPrecision(3)));

function panelSvg(panel: ScatterPanel, options: ScatterOptions, yRange: [number, number], offsetX: number): string {
  const { width, height, left, right, top, bottom } = PANEL;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const [x0, x1] = extent(panel.points.map((p) => p.x));
  const [y0, y1] = yRange;
  const sx = (x: number) => left + ((x - x0) / (x1 - x0)) * plotW;
  const sy = (y: number) => top + plotH - ((y - y0) / (y1 - y0)) * plotH;
  const parts: string[] = [`<g transform="translate(${offsetX},0)">`];
  parts.push(`<text x="${left + plotW / 2}" y="16" text-anchor="middle" font-weight="bold">${escapeXml(panel.title)}</text>`);
  parts.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
  for (const t of niceTicks(x0, x1)) {
    parts.push(`<line x1="${sx(t)}" y1="${top + plotH}" x2="${sx(t)}" y2="${top + plotH + 4}" stroke="#999"/>`);
    parts.push(`<text x="${sx(t)}" y="${top + plotH + 16}" text-anchor="middle">${format(t)}</text>`);
  }
  for (const t of niceTicks(y0, y1)) {
    parts.push(`<line x1="${left - 4}" y1="${sy(t)}" x2="${left}" y2="${sy(t)}" stroke="#999"/>`);
    parts.push(`<text x="${left - 6}" y="${sy(t) + 4}" text-anchor="end">${format(t)}</text>`);
  }
  if (options.zeroLine && y0 < 0 && y1 > 0)
    parts.push(`<line x1="${left}" y1="${sy(0)}" x2="${left + plotW}" y2="${sy(0)}" stroke="#666" stroke-dasharray="4 3"/>`);
  for (const p of panel.points) {
    parts.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="3.5" fill="${COLOURS[p.series % COLOURS.length]}" fill-opacity="0.8"/>`);
  }
  parts.push(`<text x="${left + plotW / 2}" y="${height - 6}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`);
  parts.push(`<text transform="translate(12,${top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`);
  parts.push('</g>');
  return parts.join('\n');
}

/** The panels side by side, sharing the y axis range, with a title and a legend of the series. */
export function scatterSvg(panels: readonly ScatterPanel[], options: ScatterOptions): string {
  const titleHeight = 24;
  const legendHeight = 22;
  const width = PANEL.width * panels.length;
  const height = titleHeight + PANEL.height + legendHeight;
  const yRange = extent(panels.flatMap((p) => p.points.map((q) => q.y)));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(options.title)}</text>`,
    `<g transform="translate(0,${titleHeight})">`,
    ...panels.map((panel, i) => panelSvg(panel, options, yRange, i * PANEL.width)),
    '</g>',
  ];
  const legendY = titleHeight + PANEL.height + 14;
  const step = width / Math.max(options.series.length, 1);
  options.series.forEach((name, i) => {
    parts.push(`<circle cx="${i * step + 14}" cy="${legendY - 4}" r="4" fill="${COLOURS[i % COLOURS.length]}"/>`);
    parts.push(`<text x="${i * step + 22}" y="${legendY}">${escapeXml(name)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
