import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import hnswlib from 'hnswlib-node';
import { z } from 'zod';
import { writeFileAtomicSync } from '../io/atomic.js';

const { HierarchicalNSW } = hnswlib;
type Hnsw = InstanceType<typeof HierarchicalNSW>;

/**
 * hnswlib's build parameters (Malkov & Yashunin, 2018): `m` links per node and layer, and
 * `efConstruction`, the candidate list while inserting. Both are fixed when an index is built and
 * recorded with it; `efSearch`, the candidate list while querying, is chosen per query (at least k).
 */
export interface HnswParameters {
  readonly m: number;
  readonly efConstruction: number;
}

/** hnswlib's usual defaults (M 16, ef 200 to build); ef 100 to search keeps recall near 1 at a few thousand points per query. */
export const HNSW_DEFAULTS = { m: 16, efConstruction: 200, efSearch: 100 } as const;

/** hnswlib draws each node's level at random; a fixed seed makes a rebuild reproducible. */
const RANDOM_SEED = 100;
const FORMAT = 'esmselect-hnsw-v1';

/** One vector of the index: its label (a registry id) and the SHA-256 of its float32 bytes. */
export interface IndexPoint {
  readonly label: number;
  readonly vector: Float32Array;
  readonly sha256: string;
}

export interface Neighbour {
  readonly label: number;
  /** Cosine similarity, 1 − hnswlib's cosine distance. */
  readonly similarity: number;
}

const sidecarSchema = z.object({
  format: z.literal(FORMAT),
  space: z.string(),
  dim: z.number().int().positive(),
  metric: z.literal('cosine'),
  m: z.number().int().positive(),
  ef_construction: z.number().int().positive(),
  /** label → SHA-256 of the vector it holds: the label→source map and what the index was built from. */
  points: z.record(z.string().regex(/^\d+$/), z.string()),
  /** Labels marked deleted (hnswlib keeps their nodes until a rebuild). */
  deleted: z.array(z.number().int()),
  index_sha256: z.string(),
  index_bytes: z.number().int().nonnegative(),
});

/** What an index holds: SHA-256 over its (label, vector SHA-256) pairs in label order. Equal fingerprints, same points. */
export function indexFingerprint(points: Iterable<readonly [number, string]>): string {
  const hash = createHash('sha256');
  for (const [label, sha256] of [...points].sort((a, b) => a[0] - b[0])) hash.update(`${label}:${sha256}\n`);
  return hash.digest('hex');
}

/**
 * An HNSW index (hnswlib-node, cosine distance) of the vectors of one embedding space, persisted as
 * `<path>` (hnswlib's file) and `<path>.json` (a sidecar: parameters, label → vector checksum, the
 * deleted labels, and the index file's SHA-256). `load` trusts nothing it cannot check: a sidecar
 * that does not parse, an index file that fails its checksum or that hnswlib refuses, or labels that
 * differ from the sidecar's make it report a problem instead of an index.
 */
export class HnswIndex {
  private constructor(
    readonly path: string,
    readonly space: string,
    readonly dim: number,
    readonly parameters: HnswParameters,
    private readonly hnsw: Hnsw,
    private readonly points: Map<number, string>,
    private readonly deleted: Set<number>,
  ) {}

  static create(path: string, space: string, dim: number, parameters: HnswParameters, capacity = 1): HnswIndex {
    const hnsw = new HierarchicalNSW('cosine', dim);
    hnsw.initIndex({ maxElements: Math.max(1, capacity), m: parameters.m, efConstruction: parameters.efConstruction, randomSeed: RANDOM_SEED });
    return new HnswIndex(path, space, dim, parameters, hnsw, new Map(), new Set());
  }

  /** The index saved at `path`, verified against its sidecar; or what is wrong with it. */
  static load(path: string): HnswIndex | { readonly problem: string } {
    let sidecar: z.infer<typeof sidecarSchema>;
    let bytes: Buffer;
    try {
      sidecar = sidecarSchema.parse(JSON.parse(readFileSync(`${path}.json`, 'utf8')));
      bytes = readFileSync(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { problem: 'missing' };
      return { problem: code ? `cannot be read (${code})` : `its sidecar ${path}.json is not valid` };
    }
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (bytes.byteLength !== sidecar.index_bytes || actual !== sidecar.index_sha256) {
      return { problem: `the index file fails its checksum (sha256 ${actual.slice(0, 12)}…, recorded ${sidecar.index_sha256.slice(0, 12)}…)` };
    }
    const hnsw = new HierarchicalNSW('cosine', sidecar.dim);
    try {
      hnsw.readIndexSync(path);
    } catch (error) {
      return { problem: `hnswlib cannot read it (${(error as Error).message})` };
    }
    const points = new Map(Object.entries(sidecar.points).map(([label, sha256]) => [Number(label), sha256] as const));
    const deleted = new Set(sidecar.deleted);
    const labels = hnsw.getIdsList();
    if (labels.length !== points.size + deleted.size || !labels.every((label) => points.has(label) !== deleted.has(label))) {
      return { problem: `its labels (${labels.length}) are not the sidecar's (${points.size} live, ${deleted.size} deleted)` };
    }
    return new HnswIndex(path, sidecar.space, sidecar.dim, { m: sidecar.m, efConstruction: sidecar.ef_construction }, hnsw, points, deleted);
  }

  get fingerprint(): string {
    return indexFingerprint(this.points);
  }

  /** Live points. */
  get size(): number {
    return this.points.size;
  }

  /** Points marked deleted, still taking room until a rebuild. */
  get deletedCount(): number {
    return this.deleted.size;
  }

  /** label → SHA-256 of its vector, for the live points. */
  get labels(): ReadonlyMap<number, string> {
    return this.points;
  }

  /** Adds a point, or replaces the vector under a label that is live or was deleted (hnswlib updates it in place). */
  add(point: IndexPoint): void {
    if (point.vector.length !== this.dim)
      throw new RangeError(`a vector of dimension ${point.vector.length} does not fit the ${this.dim}-dimensional index ${this.space}`);
    const known = this.points.has(point.label) || this.deleted.has(point.label);
    const count = this.hnsw.getCurrentCount();
    if (!known && count >= this.hnsw.getMaxElements()) this.hnsw.resizeIndex(Math.max(2 * count, 16));
    this.hnsw.addPoint(Array.from(point.vector), point.label);
    this.deleted.delete(point.label);
    this.points.set(point.label, point.sha256);
  }

  /** Marks a label deleted (hnswlib's markDelete): it is never returned again. */
  remove(label: number): void {
    if (!this.points.has(label)) return;
    this.hnsw.markDelete(label);
    this.points.delete(label);
    this.deleted.add(label);
  }

  /**
   * The k live points most similar to `query`, best first, among those `accept` lets through (all
   * when absent). hnswlib searches with a candidate list of max(efSearch, k).
   */
  search(query: Float32Array, k: number, efSearch: number = HNSW_DEFAULTS.efSearch, accept?: (label: number) => boolean): Neighbour[] {
    const wanted = Math.min(k, this.points.size);
    if (wanted <= 0) return [];
    this.hnsw.setEf(Math.max(efSearch, wanted));
    const { neighbors, distances } = this.hnsw.searchKnn(Array.from(query), wanted, accept);
    return neighbors.map((label, i) => ({ label, similarity: 1 - distances[i] }));
  }

  /**
   * Writes the index file, then the sidecar with its checksum, each atomically. A crash between the
   * two leaves a sidecar whose checksum the new file fails, so `load` refuses the pair.
   */
  save(): void {
    mkdirSync(dirname(this.path), { recursive: true });
    writeFileAtomicSync(this.path, (temporary) => this.hnsw.writeIndexSync(temporary));
    const bytes = readFileSync(this.path);
    const sidecar: z.infer<typeof sidecarSchema> = {
      format: FORMAT,
      space: this.space,
      dim: this.dim,
      metric: 'cosine',
      m: this.parameters.m,
      ef_construction: this.parameters.efConstruction,
      points: Object.fromEntries([...this.points].sort((a, b) => a[0] - b[0]).map(([label, sha256]) => [String(label), sha256])),
      deleted: [...this.deleted].sort((a, b) => a - b),
      index_sha256: createHash('sha256').update(bytes).digest('hex'),
      index_bytes: bytes.byteLength,
    };
    writeFileAtomicSync(`${this.path}.json`, `${JSON.stringify(sidecar)}\n`);
  }
}
