import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readTextDataset } from '../dataset/text-dataset.js';
import { embedTexts } from '../embed/embed-dataset.js';
import type { Pooling } from '../embed/pooling.js';
import type { EsmFilter } from '../esm/filter.js';
import type { Embeddings } from '../io/embeddings.js';
import type { TableFormat } from '../io/tables.js';
import { prepareTargetFor } from '../rank/ranking.js';
import { selectScorer } from '../rank/scorers.js';
import { rankTwoStage, type TwoStageRankingResult } from '../rank/two-stage.js';
import { registryPool } from '../registry/pool.js';
import type { Registry } from '../store/database.js';
import { RegistryEmbeddingCache } from '../store/embedding-cache.js';
import type { JobProgress } from '../store/jobs.js';
import { recordRankingRun } from '../store/rankings.js';
import { encodeLabels, type TaskType } from '../task/labels.js';

/** The file in a job's input directory holding inline texts or embeddings with their labels: the JSON request as it came. */
export const INLINE_INPUT = 'input.json';

/**
 * What a ranking job needs to run, kept in its registry row so that it can start again after a
 * restart; the target itself waits in the job's input directory (INLINE_INPUT, or the uploaded file).
 */
export interface RankingSpec {
  readonly input: 'texts' | 'embeddings' | 'file' | 'hub';
  /** Target rows (texts or embeddings; for a file, the examples read from it). */
  readonly rows: number;
  readonly task_type: TaskType;
  readonly model?: string;
  readonly pooling?: Pooling;
  readonly top?: number;
  readonly candidates?: number;
  readonly filters: EsmFilter;
  /** For `file`: the stored file's name in the input directory and how to read it. */
  readonly file?: {
    readonly name: string;
    readonly format: TableFormat;
    readonly text_columns: string[];
    readonly label_column: string;
    readonly num_examples?: number;
    readonly seed?: number;
  };
  /** For `hub`: the Hub dataset and the commit of its Parquet conversion the request read (the job reads the same from the cache). */
  readonly hub?: HubTargetSpec;
}

export interface HubTargetSpec {
  readonly dataset: string;
  readonly subset: string;
  readonly split: string;
  readonly revision: string;
  readonly text_columns: string[];
  readonly label_column: string;
  readonly num_examples?: number;
  readonly seed?: number;
}

/** Reads a Hub dataset target as a ranking request names it, into the data dir's cache. */
export function readHubTarget(
  target: Omit<HubTargetSpec, 'revision' | 'subset' | 'split'> & { subset?: string; split?: string; revision?: string },
  task: TaskType,
  dataDir: string,
  signal?: AbortSignal,
) {
  return readTextDataset(target.dataset, {
    textColumns: target.text_columns,
    labelColumn: target.label_column,
    task,
    numExamples: target.num_examples,
    seed: target.seed,
    subset: target.subset,
    split: target.split,
    hub: { dataDir, revision: target.revision, signal },
  });
}

/** The inline target as INLINE_INPUT holds it (the request's other fields are in the job's spec). */
export type InlineTarget = { readonly texts: string[]; readonly labels: unknown[] } | { readonly embeddings: number[][]; readonly labels: unknown[] };

export function embeddingsFromRows(rows: readonly (readonly number[])[]): Embeddings {
  const dim = rows[0].length;
  const data = new Float32Array(rows.length * dim);
  rows.forEach((row, i) => data.set(row, i * dim));
  return { rows: rows.length, dim, data };
}

/**
 * Where a job's time goes, as fractions of the whole: reading the input, embedding texts (when
 * there are texts to embed), scoring the pool, recording the run.
 */
function stageSpans(embeds: boolean): Record<'reading' | 'embedding' | 'scoring' | 'recording', [number, number]> {
  return embeds
    ? { reading: [0, 0.05], embedding: [0.05, 0.6], scoring: [0.6, 0.98], recording: [0.98, 1] }
    : { reading: [0, 0.05], embedding: [0.05, 0.05], scoring: [0.05, 0.98], recording: [0.98, 1] };
}

export interface ExecuteOptions {
  readonly registry: Registry;
  readonly modelsDir: string;
  /** The job's input directory. */
  readonly inputDir: string;
  readonly signal: AbortSignal;
  readonly onProgress: (progress: JobProgress) => void;
  /** Called with the number of ESMs scored, for the metrics. */
  readonly onScored?: (count: number) => void;
}

/**
 * Runs one ranking job: reads its target, embeds texts through the registry's embedding cache,
 * scores the filtered registry pool with ESM-LogME and records the run. Returns the run's id and
 * result. The ETA extrapolates the time taken so far over the fraction done.
 */
export async function executeRanking(spec: RankingSpec, options: ExecuteOptions): Promise<{ runId: number; result: TwoStageRankingResult }> {
  const { registry, signal } = options;
  const started = performance.now();
  const spans = stageSpans(spec.input !== 'embeddings');
  const report = (stage: keyof typeof spans, done: number, total: number) => {
    const [from, to] = spans[stage];
    const fraction = from + (to - from) * (total > 0 ? Math.min(done / total, 1) : 0);
    const elapsed = (performance.now() - started) / 1000;
    options.onProgress({ fraction, stage, eta_seconds: fraction >= 0.02 && elapsed >= 0.5 ? Math.round((elapsed * (1 - fraction)) / fraction) : null });
  };

  report('reading', 0, 1);
  let texts: string[] | undefined;
  let labels: unknown[];
  let embeddings: Embeddings | undefined;
  let space = spec.model && spec.pooling ? { model: spec.model, pooling: spec.pooling } : undefined;
  if (spec.input === 'file') {
    const file = spec.file!;
    const dataset = await readTextDataset(join(options.inputDir, file.name), {
      textColumns: file.text_columns,
      labelColumn: file.label_column,
      task: spec.task_type,
      format: file.format,
      numExamples: file.num_examples,
      seed: file.seed,
    });
    ({ texts, labels } = dataset);
  } else if (spec.input === 'hub') {
    ({ texts, labels } = await readHubTarget(spec.hub!, spec.task_type, registry.dataDir, signal));
  } else {
    const inline = JSON.parse(await readFile(join(options.inputDir, INLINE_INPUT), 'utf8')) as InlineTarget;
    labels = inline.labels;
    if ('texts' in inline) texts = inline.texts;
    else embeddings = embeddingsFromRows(inline.embeddings);
  }
  signal.throwIfAborted();
  if (texts) {
    report('embedding', 0, texts.length);
    const embedded = await embedTexts(texts, {
      model: spec.model!,
      pooling: spec.pooling,
      modelsDir: options.modelsDir,
      cache: new RegistryEmbeddingCache(registry),
      signal,
      onProgress: ({ done, total }) => report('embedding', done, total),
    });
    embeddings = embedded.embeddings;
    space = { model: embedded.meta.model, pooling: embedded.meta.pooling };
  }
  // The fastest exact scorer available (native when its addon is built); chosen per job, which is cheap.
  const { scorer } = await selectScorer();
  const target = await prepareTargetFor(scorer, embeddings!, encodeLabels(labels, spec.task_type));
  const filter = spec.filters;
  const pool = registryPool(registry, filter);
  report('scoring', 0, pool.total);
  const result = await rankTwoStage(target, pool, {
    scorer,
    top: spec.top,
    candidates: spec.candidates,
    space,
    signal,
    onProgress: ({ done, total }) => report('scoring', done, total),
  });
  options.onScored?.(result.scored);
  report('recording', 0, 1);
  const runId = recordRankingRun(registry, { result, esmSource: 'registry', filter });
  return { runId, result };
}
