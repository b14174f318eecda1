import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EsmConfig } from '../../src/esm/config.js';
import { EmbeddingSpaceMap } from '../../src/esm/esm.js';
import { saveHfselectEsm } from '../../src/esm/hfselect.js';
import { randomGenerator } from './random.js';

export const REFERENCE_POOL = 'small-pool';

export function esmConfig(taskId: string, dim: number, extra: Partial<EsmConfig> = {}): EsmConfig {
  return {
    base_model_name: 'test/encoder',
    task_id: taskId,
    task_subset: null,
    text_column: 'text',
    label_column: 'label',
    task_split: 'train',
    num_examples: 100,
    language: 'en',
    esm_architecture: 'linear',
    esm_embedding_dim: dim,
    version: '0.2.0',
    ...extra,
  };
}

/** A random ESM near the identity, so scores are well defined and distinct. */
export function randomEsm(taskId: string, dim: number, seed: number): EmbeddingSpaceMap {
  const rng = randomGenerator(seed);
  const weight = rng.normals(dim * dim, 0.3 / Math.sqrt(dim));
  for (let i = 0; i < dim; i++) weight[i * dim + i] += 1;
  return new EmbeddingSpaceMap(esmConfig(taskId, dim), weight, rng.normals(dim, 0.02));
}

/** Writes `count` random ESMs as hfselect folders under `dir`; returns their folders. */
export async function writeRandomPool(dir: string, count: number, dim: number, seed = 1): Promise<string[]> {
  const folders: string[] = [];
  for (let i = 0; i < count; i++) {
    const folder = join(dir, `task-${String(i).padStart(3, '0')}`);
    await saveHfselectEsm(randomEsm(`test/task-${i}`, dim, seed * 1000 + i), folder);
    folders.push(folder);
  }
  return folders;
}

export async function writeJson(path: string, value: unknown): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, JSON.stringify(value));
}
