import { UserInputError } from '../errors.js';
import { describeSpace, type EmbeddingSpace } from '../io/embedding-space.js';
import type { FirstStageQuery } from '../rank/two-stage.js';
import type { Registry } from '../store/database.js';
import { registeredSketches } from '../store/esm-sketches.js';
import { type SourceVectorRecord, sourceVectorsOf, spacePoints } from '../store/source-vectors.js';
import { classMeanDirections, classMeanGain, SKETCH_SHAPE } from './esm-sketch.js';
import { HNSW_DEFAULTS } from './hnsw-index.js';
import { openSourceIndex } from './source-index.js';
import { meanDirection } from './textemb.js';

/** A first stage's answer over registry ids (the pool maps them to its sources). */
export interface RegistryRetrieval {
  readonly candidates: { readonly id: number; readonly similarity: number }[];
  readonly indexed: number;
  readonly unindexed: number[];
  readonly notes: string[];
}

function sameSpace(a: EmbeddingSpace, b: EmbeddingSpace): boolean {
  return a.model === b.model && a.pooling === b.pooling;
}

/**
 * The target's space: given, or else the only one of the pool's spaces whose vectors have the
 * target's dimension (none: nothing is indexed for this target).
 */
function targetSpace(records: readonly SourceVectorRecord[], given: EmbeddingSpace | undefined, dim: number): EmbeddingSpace | undefined {
  if (given) {
    const other = records.find((r) => sameSpace(r, given) && r.dim !== dim);
    if (other)
      throw new UserInputError(`space: the target has ${dim}-dimensional embeddings, the source vectors of ${describeSpace(given)} have ${other.dim}`, 'space');
    return given;
  }
  const fitting = records.filter((r) => r.dim === dim);
  const distinct = fitting.filter((space, i) => fitting.findIndex((other) => sameSpace(space, other)) === i);
  if (distinct.length > 1) {
    throw new UserInputError(
      `space: the pool's source vectors lie in ${distinct.length} embedding spaces (${distinct.map(describeSpace).join('; ')}); say which model and pooling the target was embedded with`,
      'space',
    );
  }
  return distinct[0];
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let aa = 0;
  let bb = 0;
  for (let k = 0; k < a.length; k++) {
    dot += a[k] * b[k];
    aa += a[k] * a[k];
    bb += b[k] * b[k];
  }
  return aa > 0 && bb > 0 ? dot / Math.sqrt(aa * bb) : 0;
}

const bySimilarity = (a: { id: number; similarity: number }, b: typeof a) => b.similarity - a.similarity || a.id - b.id;

/**
 * TextEmb: the pool members with a vector in the target's space are indexed; the K nearest to the
 * target's normalised mean embedding come from that space's HNSW index (verified against the
 * registry, rebuilt if need be). When K covers all of them, their exact cosines are used instead.
 */
function textEmbStage(registry: Registry, ids: readonly number[], query: FirstStageQuery): RegistryRetrieval {
  const records = sourceVectorsOf(registry, ids);
  const { embeddings } = query.target;
  const space = targetSpace([...records.values()], query.space, embeddings.dim);
  if (!space) return { candidates: [], indexed: 0, unindexed: [...ids], notes: [] };
  const indexed = ids.filter((id) => records.has(id) && sameSpace(records.get(id)!, space));
  if (indexed.length === 0) return { candidates: [], indexed: 0, unindexed: [...ids], notes: [] };
  const members = new Set(indexed);
  const unindexed = ids.filter((id) => !members.has(id));
  const direction = meanDirection(embeddings);
  if (indexed.length <= query.k) {
    const candidates = [...spacePoints(registry, space, indexed)].map((p) => ({ id: p.label, similarity: cosine(direction, p.vector) })).sort(bySimilarity);
    return { candidates, indexed: indexed.length, unindexed, notes: [] };
  }
  const { index, rebuilt } = openSourceIndex(registry, space);
  const notes = rebuilt ? [`the index of ${describeSpace(space)} was rebuilt: ${rebuilt}`] : [];
  // Searching with a filter costs more; the whole index needs none.
  const accept = members.size === index.size ? undefined : (label: number) => members.has(label);
  const found = index.search(direction, query.k, query.efSearch ?? HNSW_DEFAULTS.efSearch, accept);
  return { candidates: found.map((n) => ({ id: n.label, similarity: n.similarity })), indexed: indexed.length, unindexed, notes };
}

/** ESM class means: every pool member with a sketch of the target's dimension is scored; the K best are kept. */
function esmMeansStage(registry: Registry, ids: readonly number[], query: FirstStageQuery): RegistryRetrieval {
  const { embeddings, columns } = query.target;
  const directions = classMeanDirections(embeddings, columns);
  const members = new Set(ids);
  const scored: { id: number; similarity: number }[] = [];
  for (const { id, sketch } of registeredSketches(registry, SKETCH_SHAPE, embeddings.dim)) {
    if (members.has(id)) scored.push({ id, similarity: classMeanGain(sketch, directions) });
  }
  const seen = new Set(scored.map((s) => s.id));
  return { candidates: scored.sort(bySimilarity).slice(0, query.k), indexed: scored.length, unindexed: ids.filter((id) => !seen.has(id)), notes: [] };
}

/** Runs the query's first stage over these registry ids. */
export function retrieveFromRegistry(registry: Registry, ids: readonly number[], query: FirstStageQuery): RegistryRetrieval {
  return query.stage === 'textemb' ? textEmbStage(registry, ids, query) : esmMeansStage(registry, ids, query);
}
