import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { writeFileAtomic } from '../io/atomic.js';
import { csvLines } from '../io/csv.js';
import type { RankedTask } from '../rank/ranking.js';
import { rankingCsv } from '../rank/ranking-csv.js';
import type { BatchPlan } from './plan.js';
import { batchReportHtml } from './report.js';
import { type SummaryMatrix, summaryMatrix, type TargetRanking } from './results.js';

/** Rankings per target go here, as `<target>.csv`, `.jsonl` and `.parquet`. */
export const RANKINGS_DIR = 'rankings';
const RANKING_EXTENSIONS = ['.csv', '.jsonl', '.parquet'] as const;

/** Sources per target that the summary and the report show. */
export const DEFAULT_SUMMARY_TOP = 10;

function rankingJsonl(ranking: readonly RankedTask[]): string {
  return ranking.map((task) => `${JSON.stringify(task)}\n`).join('');
}

function textColumn(value: RankedTask['text_column']): string | null {
  return Array.isArray(value) ? value.join(',') : value;
}

/** The ranking as Parquet, the columns of the JSONL file (several text columns comma-joined, as in the CSV). */
function rankingParquet(ranking: readonly RankedTask[]): Uint8Array {
  const column = <K extends keyof RankedTask>(name: K) => ranking.map((t) => t[name]);
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: 'rank', data: column('rank'), type: 'INT32', nullable: false },
      { name: 'task_id', data: column('task_id'), type: 'STRING', nullable: false },
      { name: 'task_subset', data: column('task_subset'), type: 'STRING' },
      { name: 'text_column', data: ranking.map((t) => textColumn(t.text_column)), type: 'STRING' },
      { name: 'label_column', data: column('label_column'), type: 'STRING' },
      { name: 'task_split', data: column('task_split'), type: 'STRING' },
      { name: 'num_examples', data: column('num_examples'), type: 'INT32' },
      { name: 'language', data: column('language'), type: 'STRING' },
      { name: 'base_model_name', data: column('base_model_name'), type: 'STRING', nullable: false },
      { name: 'esm_architecture', data: column('esm_architecture'), type: 'STRING', nullable: false },
      { name: 'score', data: column('score'), type: 'DOUBLE', nullable: false },
      { name: 'source', data: column('source'), type: 'STRING', nullable: false },
    ],
    createdBy: 'esmselect',
  });
  return new Uint8Array(buffer);
}

function summaryCsv(matrix: SummaryMatrix, value: (cell: { rank: number; score: number }) => string): string {
  return `${csvLines(
    ['target', ...matrix.columns.map((c) => c.label)],
    matrix.rows.map((row) => [row.target, ...row.cells.map((cell) => (cell ? value(cell) : ''))]),
  )}\n`;
}

/** What the batch wrote, for scripts: per target its shape, counts, rejected ESMs and files. */
function batchIndex(plan: BatchPlan, rankings: readonly TargetRanking[], files: Record<string, string[]>): string {
  const index = {
    fingerprint: plan.fingerprint,
    scorer: plan.scorer,
    esms: plan.sources.length,
    shard_size: plan.shardSize,
    targets: rankings.map(({ target, ranking, rejected }) => ({
      name: target.name,
      task: target.task,
      n: target.embeddings.rows,
      d: target.embeddings.dim,
      ...(target.labels.task === 'classification' ? { classes: target.labels.classes } : {}),
      scored: ranking.length,
      best: ranking[0] ? { task_id: ranking[0].task_id, score: ranking[0].score, source: ranking[0].source } : null,
      rejected,
      files: files[target.name],
    })),
    summary: ['summary.csv', 'summary-scores.csv'],
    report: 'report.html',
  };
  return `${JSON.stringify(index, null, 2)}\n`;
}

/**
 * Writes a finished batch: per target its ranking as CSV (as `esmselect rank --format csv`), JSONL
 * and Parquet under rankings/; the targets × top-sources matrix as summary.csv (ranks) and
 * summary-scores.csv; report.html; and batch.json, written last, listing it all. Every file is
 * written atomically and depends only on the plan and the rankings, so the same checkpoints give
 * the same bytes. Ranking files of targets no longer in the plan are removed.
 */
export async function writeBatchOutputs(outDir: string, plan: BatchPlan, rankings: readonly TargetRanking[], top = DEFAULT_SUMMARY_TOP): Promise<string[]> {
  const dir = join(outDir, RANKINGS_DIR);
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  const files: Record<string, string[]> = {};
  const write = async (relative: string, data: string | Uint8Array) => {
    await writeFileAtomic(join(outDir, relative), data);
    written.push(relative);
  };
  for (const { target, ranking } of rankings) {
    const base = join(RANKINGS_DIR, target.name);
    files[target.name] = RANKING_EXTENSIONS.map((ext) => `${base}${ext}`);
    await write(`${base}.csv`, `${rankingCsv(ranking)}\n`);
    await write(`${base}.jsonl`, rankingJsonl(ranking));
    await write(`${base}.parquet`, rankingParquet(ranking));
  }
  const current = new Set(
    Object.values(files)
      .flat()
      .map((f) => f.slice(RANKINGS_DIR.length + 1)),
  );
  for (const name of await readdir(dir)) {
    if (RANKING_EXTENSIONS.some((ext) => name.endsWith(ext)) && !current.has(name)) await rm(join(dir, name));
  }
  const matrix = summaryMatrix(rankings, top);
  await write(
    'summary.csv',
    summaryCsv(matrix, (cell) => String(cell.rank)),
  );
  await write(
    'summary-scores.csv',
    summaryCsv(matrix, (cell) => String(cell.score)),
  );
  await write('report.html', batchReportHtml(plan, rankings, matrix));
  await write('batch.json', batchIndex(plan, rankings, files));
  return written;
}
