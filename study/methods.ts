import { embedTexts } from '../src/embed/embed-dataset.js';
import { readModelFolder } from '../src/finetune/checkpoint.js';
import { embedWithEncoder } from '../src/finetune/trainer.js';
import type { Embeddings } from '../src/io/embeddings.js';
import type { Matrix } from '../src/linalg/matrix.js';
import { logme } from '../src/logme/logme.js';
import { rank } from '../src/rank/rank.js';
import type { EsmScorer } from '../src/rank/ranking.js';
import { registryPool } from '../src/registry/pool.js';
import { meanDirection } from '../src/retrieval/textemb.js';
import { RegistryEmbeddingCache } from '../src/store/embedding-cache.js';
import { encodeLabels } from '../src/task/labels.js';
import type { StudyContext } from './context.js';
import type { SourceRun } from './sources.js';
import type { StudyTask } from './tasks.js';

export const METHODS = ['esm-logme', 'finetuned-logme', 'textemb', 'base-logme', 'random'] as const;
export type MethodName = (typeof METHODS)[number];

export const METHOD_LABELS: Record<MethodName, string> = {
  'esm-logme': 'ESM-LogME',
  'finetuned-logme': 'LogME on fine-tuned models (upper reference)',
  textemb: 'TextEmb (cosine of mean base embeddings)',
  'base-logme': 'LogME on base embeddings (no ESM)',
  random: 'random',
};

/** One method's scores of every source for one target (source order), and what computing them cost. */
export interface TargetScores {
  readonly target: string;
  /** Null for random: every ranking equally likely, evaluated in expectation. */
  readonly scores: Record<MethodName, readonly number[] | null>;
  /** Seconds each method spent on this target (the target's base embedding counted for each that needs it). */
  readonly seconds: Record<MethodName, number>;
}

/** What a method spends once per source pool, before any target: seconds and bytes kept. */
export interface PoolCost {
  readonly seconds: number;
  readonly bytes: number;
  readonly note: string;
}

const FLOAT32_BYTES = 4;

function toMatrix(embeddings: Embeddings): Matrix {
  return { rows: embeddings.rows, cols: embeddings.dim, data: Float64Array.from(embeddings.data) };
}

/** Base-model embeddings of texts, through the registry's embedding cache (as `esmselect rank --dataset` embeds a target). */
async function embedBase(context: StudyContext, cache: RegistryEmbeddingCache, texts: readonly string[]): Promise<Embeddings> {
  return (await embedTexts(texts, { model: context.config.model, modelsDir: context.modelsDir, cache })).embeddings;
}

async function timed<T>(work: () => Promise<T> | T): Promise<{ value: T; seconds: number }> {
  const started = performance.now();
  const value = await work();
  return { value, seconds: (performance.now() - started) / 1000 };
}

/**
 * The selection methods compared by the study, all over the same sources:
 * - ESM-LogME: the target's base embeddings ranked against the registered ESMs (`rank` on the
 *   registry pool, the selected scorer), as `esmselect rank` does;
 * - LogME on fine-tuned models (the expensive upper reference): LogME of the target embedded by each
 *   source's actually fine-tuned encoder;
 * - TextEmb: cosine of the mean base embeddings of the source's and the target's texts;
 * - LogME on base embeddings: LogME of the target's base embeddings, which is what ESM-LogME
 *   computes with the identity for every source's map, so one score for all sources;
 * - random.
 */
export class SelectionMethods {
  private constructor(
    private readonly context: StudyContext,
    private readonly sources: readonly SourceRun[],
    private readonly scorer: EsmScorer,
    private readonly cache: RegistryEmbeddingCache,
    /** TextEmb's part that does not depend on the target: the mean base embedding of each source, and what it took. */
    private readonly sourceMeans: readonly Float32Array[],
    private readonly textEmbPoolSeconds: number,
  ) {}

  /** The methods over a pool of sources, with what they compute once per pool done. */
  static async create(context: StudyContext, sources: readonly SourceRun[], scorer: EsmScorer): Promise<SelectionMethods> {
    const cache = new RegistryEmbeddingCache(context.registry);
    const { value, seconds } = await timed(async () => {
      const means: Float32Array[] = [];
      for (const source of sources) means.push(meanDirection(await embedBase(context, cache, source.task.train.texts)));
      return means;
    });
    return new SelectionMethods(context, sources, scorer, cache, value, seconds);
  }

  poolCosts(): Record<MethodName, PoolCost> {
    const sum = (f: (s: SourceRun) => number) => this.sources.reduce((total, s) => total + f(s), 0);
    const dim = this.sourceMeans[0]?.length ?? 0;
    return {
      'esm-logme': {
        seconds: sum((s) => s.seconds.esm),
        bytes: sum((s) => s.esmBytes),
        note: 'train an ESM per source (embed its texts with the base and the fine-tuned model, fit); keep the ESMs',
      },
      'finetuned-logme': { seconds: 0, bytes: sum((s) => s.modelBytes), note: 'keep every fine-tuned model' },
      textemb: {
        seconds: this.textEmbPoolSeconds,
        bytes: this.sources.length * dim * FLOAT32_BYTES,
        note: "embed each source's texts with the base model; keep their mean directions",
      },
      'base-logme': { seconds: 0, bytes: 0, note: 'nothing' },
      random: { seconds: 0, bytes: 0, note: 'nothing' },
    };
  }

  async scoreTarget(target: StudyTask): Promise<TargetScores> {
    const { texts, labels: raw } = target.train;
    const labels = encodeLabels(raw, 'classification');
    const embedded = await timed(() => embedBase(this.context, this.cache, texts));
    const embeddings = embedded.value;

    const esm = await timed(() => rank({ embeddings, labels: raw, task: 'classification', esms: registryPool(this.context.registry), scorer: this.scorer }));
    const byTask = new Map(esm.value.ranking.map((r) => [r.task_id, r.score]));
    const esmScores = this.sources.map((s) => {
      const score = byTask.get(s.task.id);
      if (score === undefined) throw new Error(`the ranking for ${target.id} has no score for ${s.task.id} (rejected: ${JSON.stringify(esm.value.rejected)})`);
      return score;
    });

    const base = await timed(() => logme(toMatrix(embeddings), labels));

    // The product's TextEmb (src/index/textemb.ts): unit mean directions, so the cosine is their dot product.
    const targetMean = await timed(() => meanDirection(embeddings));
    const textEmbScores = this.sourceMeans.map((m) => m.reduce((dot, v, i) => dot + v * targetMean.value[i], 0));

    const tuned = await timed(async () => {
      const sequences = this.context.tokenizer.tokenize(texts);
      const scores: number[] = [];
      for (const source of this.sources) {
        const features = embedWithEncoder(await readModelFolder(source.checkpoint), this.context.pooling, sequences, 64);
        scores.push(logme(toMatrix(features), labels));
      }
      return scores;
    });

    return {
      target: target.id,
      scores: {
        'esm-logme': esmScores,
        'finetuned-logme': tuned.value,
        textemb: textEmbScores,
        'base-logme': this.sources.map(() => base.value),
        random: null,
      },
      seconds: {
        'esm-logme': embedded.seconds + esm.seconds,
        'finetuned-logme': tuned.seconds,
        textemb: embedded.seconds + targetMean.seconds,
        'base-logme': embedded.seconds + base.seconds,
        random: 0,
      },
    };
  }
}
