import { join } from 'node:path';
import { describeSpace, type EmbeddingSpace } from '../io/embedding-space.js';
import type { Registry } from '../store/database.js';
import { sha256Hex } from '../store/files.js';
import { recordedSpaces, spaceDim, spaceLabels, spacePoints } from '../store/source-vectors.js';
import { HNSW_DEFAULTS, HnswIndex, type HnswParameters, indexFingerprint } from './hnsw-index.js';

/** Where the HNSW indexes live, relative to the data dir. */
export const INDEX_DIR = 'index';

/**
 * A rebuild also compacts: hnswlib keeps deleted points until then, so once they outnumber the live
 * ones (and at least this many), an update rebuilds instead of marking more.
 */
const COMPACT_AFTER = 1000;

export interface SourceIndexOptions {
  /** Parameters for an index built now; an index that exists keeps those it was built with. */
  readonly hnsw?: Partial<HnswParameters>;
  readonly onProgress?: (progress: { readonly space: string; readonly done: number; readonly total: number }) => void;
}

/** `<data dir>/index/<model>.<pooling>.<hash>.hnsw`: readable, and distinct for any two spaces. */
export function indexPath(registry: Registry, space: EmbeddingSpace): string {
  const slug = `${space.model}.${space.pooling}`.replace(/[^A-Za-z0-9._-]+/g, '_');
  return registry.resolve(join(INDEX_DIR, `${slug}.${sha256Hex(JSON.stringify([space.model, space.pooling])).slice(0, 8)}.hnsw`));
}

/** Indexes this process has open, per registry, by space: a long-running server checks them per request. */
const opened = new WeakMap<Registry, Map<string, HnswIndex>>();

function cacheOf(registry: Registry): Map<string, HnswIndex> {
  let cache = opened.get(registry);
  if (!cache) opened.set(registry, (cache = new Map()));
  return cache;
}

function parametersFor(options: SourceIndexOptions, previous?: HnswParameters): HnswParameters {
  return {
    m: options.hnsw?.m ?? previous?.m ?? HNSW_DEFAULTS.m,
    efConstruction: options.hnsw?.efConstruction ?? previous?.efConstruction ?? HNSW_DEFAULTS.efConstruction,
  };
}

/** Builds the index of a space afresh from the registry's vectors, saves it and returns it. */
export function buildSourceIndex(registry: Registry, space: EmbeddingSpace, options: SourceIndexOptions = {}, previous?: HnswParameters): HnswIndex {
  const labels = spaceLabels(registry, space);
  const dim = spaceDim(registry, space) ?? 1;
  const name = describeSpace(space);
  const index = HnswIndex.create(indexPath(registry, space), name, dim, parametersFor(options, previous), labels.size);
  let done = 0;
  for (const point of spacePoints(registry, space)) {
    if (!labels.has(point.label)) continue;
    index.add(point);
    if (++done % 256 === 0) options.onProgress?.({ space: name, done, total: labels.size });
  }
  options.onProgress?.({ space: name, done, total: labels.size });
  index.save();
  cacheOf(registry).set(index.path, index);
  return index;
}

export interface OpenedIndex {
  readonly index: HnswIndex;
  /** Why the index was rebuilt on opening (missing, corrupt, disagreeing with the registry); null when it was sound. */
  readonly rebuilt: string | null;
}

/**
 * The index of a space, checked against the registry before use: the copy this process holds while
 * its fingerprint matches the registry's vectors; else the saved one, verified (sidecar, checksum,
 * hnswlib's own read, labels) and compared with the registry. A missing, corrupt or disagreeing
 * index is rebuilt from the registry, never trusted.
 */
export function openSourceIndex(registry: Registry, space: EmbeddingSpace, options: SourceIndexOptions = {}): OpenedIndex {
  const path = indexPath(registry, space);
  const expected = indexFingerprint(spaceLabels(registry, space));
  const cache = cacheOf(registry);
  const held = cache.get(path);
  if (held && held.fingerprint === expected) return { index: held, rebuilt: null };
  const loaded = HnswIndex.load(path);
  if (!('problem' in loaded) && loaded.fingerprint === expected) {
    cache.set(path, loaded);
    return { index: loaded, rebuilt: null };
  }
  const rebuilt = 'problem' in loaded ? loaded.problem : `it holds ${loaded.size} vectors that disagree with the registry's`;
  return { index: buildSourceIndex(registry, space, options, 'problem' in loaded ? undefined : loaded.parameters), rebuilt };
}

export interface IndexUpdate {
  readonly space: string;
  readonly added: number;
  readonly removed: number;
  /** Why it was rebuilt instead of updated, if it was. */
  readonly rebuilt: string | null;
}

/**
 * Brings each space's saved index up to the registry after this process changed it (import,
 * delete, attached texts): new or changed vectors are added, vectors of deleted ESMs marked deleted
 * (hnswlib's markDelete), and the index saved. An index that cannot be loaded is rebuilt, as is one
 * whose deleted points would outnumber its live ones (compaction).
 */
export function updateSourceIndexes(registry: Registry, options: SourceIndexOptions = {}): IndexUpdate[] {
  const updates: IndexUpdate[] = [];
  for (const space of recordedSpaces(registry)) {
    const name = describeSpace(space);
    const expected = spaceLabels(registry, space);
    const loaded = HnswIndex.load(indexPath(registry, space));
    if ('problem' in loaded) {
      if (loaded.problem === 'missing' && expected.size === 0) continue;
      buildSourceIndex(registry, space, options);
      updates.push({ space: name, added: expected.size, removed: 0, rebuilt: loaded.problem });
      continue;
    }
    const added = [...expected].filter(([label, sha256]) => loaded.labels.get(label) !== sha256).map(([label]) => label);
    const removed = [...loaded.labels.keys()].filter((label) => !expected.has(label));
    if (added.length === 0 && removed.length === 0) continue;
    if (loaded.deletedCount + removed.length > Math.max(COMPACT_AFTER, expected.size)) {
      buildSourceIndex(registry, space, options, loaded.parameters);
      updates.push({ space: name, added: added.length, removed: removed.length, rebuilt: 'compacted: more deleted points than live ones' });
      continue;
    }
    for (const label of removed) loaded.remove(label);
    for (const point of spacePoints(registry, space, added)) loaded.add(point);
    loaded.save();
    cacheOf(registry).set(loaded.path, loaded);
    updates.push({ space: name, added: added.length, removed: removed.length, rebuilt: null });
  }
  return updates;
}

export interface IndexStatus {
  readonly space: string;
  readonly path: string;
  /** Registered ESMs with a vector in this space. */
  readonly vectors: number;
  /** `ok`, or what is wrong (missing, corrupt, disagreeing): such an index is rebuilt when next opened. */
  readonly state: string;
  readonly points: number | null;
  readonly deleted: number | null;
  readonly parameters: HnswParameters | null;
}

/** Each space's index as saved, checked as `openSourceIndex` would, without rebuilding anything. */
export function sourceIndexStatus(registry: Registry): IndexStatus[] {
  return recordedSpaces(registry).map((space) => {
    const path = indexPath(registry, space);
    const expected = spaceLabels(registry, space);
    const loaded = HnswIndex.load(path);
    const common = { space: describeSpace(space), path, vectors: expected.size };
    if ('problem' in loaded) return { ...common, state: loaded.problem, points: null, deleted: null, parameters: null };
    const state = loaded.fingerprint === indexFingerprint(expected) ? 'ok' : 'disagrees with the registry';
    return { ...common, state, points: loaded.size, deleted: loaded.deletedCount, parameters: loaded.parameters };
  });
}

/** Rebuilds every space's index from the registry (`esmselect index rebuild`). */
export function rebuildSourceIndexes(registry: Registry, options: SourceIndexOptions = {}): HnswIndex[] {
  return recordedSpaces(registry).map((space) => {
    const loaded = HnswIndex.load(indexPath(registry, space));
    return buildSourceIndex(registry, space, options, 'problem' in loaded ? undefined : loaded.parameters);
  });
}
