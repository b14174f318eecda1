import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddingSpaceMap } from '../src/esm/esm.js';
import { saveHfselectEsm } from '../src/esm/hfselect.js';
import { folderPool, type PoolEntry } from '../src/esm/pool.js';
import { trainEsm } from '../src/esm/train.js';
import { seededUniform } from '../src/random.js';
import { importEsmFolders } from '../src/registry/import.js';
import { registryPool } from '../src/registry/pool.js';
import { openRegistry } from '../src/store/database.js';

function uniforms(count: number, seed: number, scale: number): Float32Array {
  const uniform = seededUniform(seed);
  return Float32Array.from({ length: count }, () => (2 * uniform() - 1) * scale);
}

async function seconds(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

/**
 * The registry's costs against references measured in the same run:
 * - import (parse, hash, atomic write, commit per ESM) against only reading the same folders;
 * - reading a ranking pool from the registry (each weights file SHA-256-checked) against reading the folders
 *   (scoring, the same for both, is left out so the difference shows);
 * - ESM training time per epoch (hfselect's recipe) against one pass of the same matrix products in JS.
 */
export async function registryBenchmark(args: readonly string[]): Promise<void> {
  const count = Number(args[0] ?? 200);
  const dim = Number(args[1] ?? 256);
  const dir = await mkdtemp(join(tmpdir(), 'esmselect-bench-'));
  try {
    const pool = join(dir, 'pool');
    for (let i = 0; i < count; i++) {
      const weight = uniforms(dim * dim, i, 0.1 / Math.sqrt(dim));
      for (let k = 0; k < dim; k++) weight[k * dim + k] += 1;
      const config = { base_model_name: 'bench/encoder', task_id: `bench/task-${i}`, esm_architecture: 'linear' as const, esm_embedding_dim: dim };
      await saveHfselectEsm(new EmbeddingSpaceMap(config, weight, uniforms(dim, 10_000 + i, 0.01)), join(pool, `task-${i}`));
    }
    const drain = async (entries: AsyncIterable<PoolEntry>) => {
      for await (const entry of entries) if ('problem' in entry) throw new Error(entry.problem);
    };
    // Once to warm the page cache and the JIT, so the reference is not charged for them.
    await drain((await folderPool([pool])).entries());
    const readOnly = await seconds(async () => drain((await folderPool([pool])).entries()));
    const registry = openRegistry({ dataDir: join(dir, 'data') });
    const imported = await seconds(() => importEsmFolders(registry, [pool]));
    const reimported = await seconds(() => importEsmFolders(registry, [pool]));
    const fromRegistry = await seconds(() => drain(registryPool(registry).entries()));
    registry.close();

    const n = 2000;
    const base = { rows: n, dim, data: uniforms(n * dim, 7, 1) };
    const tuned = { rows: n, dim, data: uniforms(n * dim, 8, 1) };
    const epochs = 2;
    let backend = '';
    const training = await seconds(async () => {
      backend = (await trainEsm(base, tuned, { base_model_name: 'bench/encoder', task_id: 'bench/train' }, { epochs, heldOutFraction: 0.1 })).report.backend;
    });
    // Reference: the forward and weight-gradient products of one epoch (2·n·d² multiply-adds each) in plain JS.
    const reference = await seconds(async () => {
      const out = new Float64Array(dim);
      for (let pass = 0; pass < 2; pass++) {
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < dim; j++) {
            let s = 0;
            for (let k = 0; k < dim; k++) s += base.data[j * dim + k] * base.data[i * dim + k];
            out[j] = s;
          }
        }
      }
    });

    const line = (name: string, value: number, reference: number, referenceName: string) =>
      process.stdout.write(`${name.padEnd(44)} ${value.toFixed(3).padStart(8)} s   ×${(value / reference).toFixed(2)} of ${referenceName}\n`);
    process.stdout.write(`registry benchmark: ${count} ESMs of dimension ${dim}; ESM training on ${n} pairs, ${backend}\n`);
    line('read the pool from folders (reference)', readOnly, readOnly, 'reading folders');
    line('read the pool from the registry (verified)', fromRegistry, readOnly, 'reading folders');
    line('import into an empty registry', imported, readOnly, 'reading folders');
    line('re-import (all skipped)', reimported, readOnly, 'reading folders');
    line('train an ESM, per epoch', training / epochs, reference, 'one epoch of plain-JS products');
    line('one epoch of plain-JS products (reference)', reference, reference, 'itself');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
