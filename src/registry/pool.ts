import { EsmFormatError } from '../esm/hfselect.js';
import type { EsmPool, PoolEntry } from '../esm/pool.js';
import type { RetrievablePool } from '../rank/two-stage.js';
import { retrieveFromRegistry } from '../retrieval/first-stage.js';
import type { Registry } from '../store/database.js';
import { type EsmFilter, findEsm, listEsmIds, parseRegistrySource, registrySource } from '../store/esms.js';
import { loadRegisteredEsm } from './esms.js';

/** Registered ESMs by id as a pool, read one at a time; missing or corrupt ones come out rejected. */
function idsPool(registry: Registry, ids: readonly number[]): EsmPool {
  return {
    total: ids.length,
    async *entries(): AsyncGenerator<PoolEntry> {
      for (const id of ids) {
        const source = registrySource(id);
        const record = findEsm(registry, id);
        if (!record) {
          yield { source, problem: 'deleted from the registry while ranking' };
          continue;
        }
        try {
          yield { source, esm: await loadRegisteredEsm(registry, record) };
        } catch (error) {
          if (!(error instanceof EsmFormatError)) throw error;
          yield { source, problem: error.problem };
        }
      }
    },
  };
}

/**
 * The registered ESMs matching `filter` as a pool for ranking, read one at a time. Entries whose
 * weights are missing or fail their checksum come out as rejected, with the reason. A first stage
 * (TextEmb through the HNSW index, or ESM class means) can pre-select its members for two-stage ranking.
 */
export function registryPool(registry: Registry, filter: EsmFilter = {}): RetrievablePool {
  const ids = listEsmIds(registry, filter);
  return {
    ...idsPool(registry, ids),
    async retrieve(query) {
      const found = retrieveFromRegistry(registry, ids, query);
      return {
        candidates: found.candidates.map(({ id, similarity }) => ({ source: registrySource(id), similarity })),
        indexed: found.indexed,
        unindexed: found.unindexed.map(registrySource),
        notes: found.notes,
      };
    },
    subset(sources) {
      return idsPool(
        registry,
        sources.map((source) => {
          const id = parseRegistrySource(source);
          if (id === null) throw new Error(`${source} is not a registry source`);
          return id;
        }),
      );
    },
  };
}
