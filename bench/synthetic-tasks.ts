import type { EsmConfig } from '../src/esm/config.js';
import { EmbeddingSpaceMap } from '../src/esm/esm.js';
import type { Embeddings } from '../src/io/embeddings.js';
import { seededUniform, standardNormal } from '../src/random.js';

/**
 * A synthetic world of tasks with a known structure, for measuring first stages against exhaustive
 * ESM-LogME. Every task has a latent topic z (a unit vector in L dimensions; topics come in
 * clusters). The topic decides, through fixed random maps from L to D dimensions:
 * - where the task's texts lie in the base model's space (centre A z): its TextEmb vector;
 * - the direction u = B z + B' q(z) along which its labels separate;
 * - a nuisance direction n = C z + C' q(z) along which its texts vary without regard to the labels.
 * q(z) = (L z∘z − 1)/√(2L) is even in z: without it, the topic opposite to the target's (texts far
 * away) would stretch the same line (u and −u) and be as useful.
 * A source task's ESM stretches its own label direction (by g₁) and its nuisance direction (by
 * g₂), plus small dense noise. A target's ESM-LogME is high for sources that stretch the target's
 * label direction without stretching its nuisance one, so useful sources have nearby topics, which
 * also puts their texts near the target's: the structure TextEmb relies on. How near is noisy
 * (topic spread, per-source text offsets, the g's), so the nearest texts are not simply the best.
 */
export interface WorldOptions {
  readonly dim: number;
  readonly seed: number;
  /** Latent topic dimensions. */
  readonly latent?: number;
  /** Sources per topic cluster. */
  readonly clusterSize?: number;
}

interface Topic {
  readonly z: Float64Array;
  readonly centre: Float64Array;
  readonly labelDirection: Float64Array;
  readonly nuisance: Float64Array;
}

export interface SyntheticTarget {
  readonly embeddings: Embeddings;
  readonly labels: number[];
}

const TEXT_NOISE = 1;
const CENTRE_NORM = 2;
/** Texts a source's TextEmb vector averages. */
const SOURCE_TEXTS = 1000;
/** Per-source offset of its texts from its topic's centre, relative to the centre. */
const SOURCE_OFFSET = 0.35;
const TOPIC_SPREAD = 0.45;
const LABEL_SHIFT = 0.8;
const NUISANCE_SPREAD = 2;

function unit(v: Float64Array): Float64Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  return v.map((x) => x / norm);
}

export class SyntheticWorld {
  readonly dim: number;
  private readonly latent: number;
  private readonly clusterSize: number;
  private readonly maps: readonly Float64Array[];
  private readonly seed: number;

  constructor(options: WorldOptions) {
    this.dim = options.dim;
    this.latent = options.latent ?? 16;
    this.clusterSize = options.clusterSize ?? 20;
    this.seed = options.seed;
    const normal = this.normals(0);
    this.maps = [0, 1, 2, 3, 4].map(() => Float64Array.from({ length: this.dim * this.latent }, normal));
  }

  /** An independent stream of N(0, 1) draws for one purpose, so sources can be made in any order. */
  private normals(stream: number): () => number {
    const uniform = seededUniform((this.seed * 0x9e3779b1 + stream * 0x85ebca6b) >>> 0);
    return () => standardNormal(uniform);
  }

  /** unit(M z + M' q(z)), or unit(M z) without M'. */
  private project(map: Float64Array, z: Float64Array, even?: Float64Array): Float64Array {
    const l = this.latent;
    const q = z.map((x) => (l * x * x - 1) / Math.sqrt(2 * l));
    const out = new Float64Array(this.dim);
    for (let i = 0; i < this.dim; i++) {
      for (let j = 0; j < l; j++) out[i] += map[i * l + j] * z[j] + (even ? even[i * l + j] * q[j] : 0);
    }
    return unit(out);
  }

  /** The topic of a member of cluster `cluster`, drawn from `normal`. */
  private topic(cluster: number, normal: () => number): Topic {
    const centreNormal = this.normals(1_000_000 + cluster);
    const clusterCentre = unit(Float64Array.from({ length: this.latent }, centreNormal));
    const z = unit(clusterCentre.map((c) => c + (TOPIC_SPREAD * normal()) / Math.sqrt(this.latent)));
    const [a, b, bEven, c, cEven] = this.maps;
    return { z, centre: this.project(a, z), labelDirection: this.project(b, z, bEven), nuisance: this.project(c, z, cEven) };
  }

  clusterOf(source: number): number {
    return Math.floor(source / this.clusterSize);
  }

  private sourceTopic(index: number): Topic {
    return this.topic(this.clusterOf(index), this.normals(1 + 3 * index));
  }

  /**
   * The ESM of source `index`: W = I + (g₁ − 1) v vᵀ + (g₂ − 1) w wᵀ + E with v, w its label and
   * nuisance directions (slightly perturbed), g₁ ∈ (1.5, 4), g₂ ∈ (1, 3), E dense N(0, 0.02²/D).
   */
  sourceEsm(index: number, taskId: string, baseModel: string): EmbeddingSpaceMap {
    const normal = this.normals(2 + 3 * index);
    const uniform = () => 0.5 + 0.5 * Math.tanh(normal());
    const topic = this.sourceTopic(index);
    const d = this.dim;
    const jitter = (v: Float64Array) => unit(v.map((x) => x + (0.15 * normal()) / Math.sqrt(d)));
    const v = jitter(topic.labelDirection);
    const w = jitter(topic.nuisance);
    const g1 = 1.5 + 2.5 * uniform();
    const g2 = 1 + 2 * uniform();
    const weight = new Float32Array(d * d);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) weight[i * d + j] = (i === j ? 1 : 0) + (g1 - 1) * v[i] * v[j] + (g2 - 1) * w[i] * w[j] + (0.02 * normal()) / Math.sqrt(d);
    }
    const bias = Float32Array.from({ length: d }, () => 0.01 * normal());
    const config: EsmConfig = {
      base_model_name: baseModel,
      task_id: taskId,
      esm_architecture: 'linear',
      esm_embedding_dim: d,
      text_column: 'text',
      label_column: 'label',
      num_examples: SOURCE_TEXTS,
    };
    return new EmbeddingSpaceMap(config, weight, bias);
  }

  /**
   * The TextEmb vector of source `index`: the normalised mean of 1,000 texts x = 2·centre + offset + ε
   * (a per-source offset, ε ~ N(0, I/D)), drawn from its distribution, 2·centre + offset + N(0, I/(1000·D)),
   * rather than from 1,000 drawn texts.
   */
  sourceVector(index: number): Float32Array {
    const normal = this.normals(3 + 3 * index);
    const topic = this.sourceTopic(index);
    const d = this.dim;
    const mean = topic.centre.map(
      (c) => CENTRE_NORM * c + (SOURCE_OFFSET * CENTRE_NORM * normal()) / Math.sqrt(d) + (TEXT_NOISE * normal()) / Math.sqrt(SOURCE_TEXTS * d),
    );
    return Float32Array.from(unit(mean));
  }

  /**
   * Target `index` with `rows` texts, a new member of the topic cluster of source `nearSource`:
   * x = 2·centre + ε + (±0.8/√D)·u + h·n with ε ~ N(0, I/D), balanced labels ± along its label
   * direction u (a shift of 0.8 noise deviations), and h ~ N(0, 2²/D) along its nuisance direction n.
   */
  target(index: number, nearSource: number, rows: number): SyntheticTarget {
    const normal = this.normals(10_000_000 + index);
    const topic = this.topic(this.clusterOf(nearSource), normal);
    const d = this.dim;
    const data = new Float32Array(rows * d);
    const labels: number[] = [];
    for (let i = 0; i < rows; i++) {
      const y = i % 2;
      const h = (NUISANCE_SPREAD * normal()) / Math.sqrt(d);
      for (let k = 0; k < d; k++) {
        data[i * d + k] =
          CENTRE_NORM * topic.centre[k] +
          (TEXT_NOISE * normal()) / Math.sqrt(d) +
          ((y ? 1 : -1) * LABEL_SHIFT * topic.labelDirection[k]) / Math.sqrt(d) +
          h * topic.nuisance[k];
      }
      labels.push(y);
    }
    return { embeddings: { rows, dim: d, data }, labels };
  }
}
