import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { EsmConfig } from '../../../src/esm/config.js';
import { serializeSafetensors } from '../../../src/io/safetensors.js';
import { seededUniform } from '../../../src/random.js';
import type { Repo, RepoType } from './repos.js';
import type { HubStandin } from './standin.js';

/**
 * Puts repos on the Hub stand-in as their authors publish them: ESMs as hfselect's `ESM.publish`
 * does, model folders as `save_pretrained` + upload, and the dataset viewer's Parquet conversion.
 */

/** hfselect's model card (`ESM.publish`: ModelCardData with the license, the task's dataset, the base model and two tags). */
export function esmModelCard(config: Pick<EsmConfig, 'base_model_name' | 'task_id'> & Partial<EsmConfig>): string {
  return [
    '---',
    `base_model: ${config.base_model_name}`,
    'datasets:',
    `- ${config.task_id}`,
    'license: apache-2.0',
    'tags:',
    '- embedding_space_map',
    `- BaseLM:${config.base_model_name}`,
    '---',
    '',
    `# ESM ${config.task_id}`,
    '',
    `- **Base Model:** ${config.base_model_name}`,
    `- **Intermediate Task:** ${config.task_id}`,
    `- **ESM embedding dimension:** ${config.esm_embedding_dim ?? ''}`,
    '',
  ].join('\n');
}

/**
 * An hfselect ESM's weights file as the safetensors library writes it (`save_pretrained`): metadata
 * `format: pt`, F32 `model.bias`, then `model.weight` (D×D, row-major). A weight of another length
 * than D×D makes the file a wrong-shaped ESM.
 */
export function esmWeightsFile(weight: Float32Array, bias: Float32Array): Buffer {
  const dim = bias.length;
  const side = Math.round(Math.sqrt(weight.length));
  return Buffer.from(
    serializeSafetensors(
      {
        'model.bias': { dtype: 'F32', shape: [dim], data: bias },
        'model.weight': { dtype: 'F32', shape: side * side === weight.length ? [side, side] : [weight.length], data: weight },
      },
      { format: 'pt' },
    ),
  );
}

export interface PublishedEsm {
  readonly repoId: string;
  readonly config: EsmConfig;
  readonly weights: Buffer;
  /** Replaces the card hfselect would write (e.g. one without the tags). */
  readonly card?: string;
  readonly private?: boolean;
}

/** Creates the repo (or adds a commit to it) with config.json, model.safetensors and README.md. */
export function publishEsm(hub: HubStandin, esm: PublishedEsm): Repo {
  const repo = hub.store.get('model', esm.repoId) ?? hub.store.create('model', esm.repoId, { private: esm.private });
  hub.store.commit(repo, 'main', {
    title: 'Upload ESM',
    files: {
      'config.json': JSON.stringify(esm.config, null, 2),
      'model.safetensors': esm.weights,
      'README.md': esm.card ?? esmModelCard(esm.config),
    },
  });
  return repo;
}

/**
 * `count` ESMs of dimension `dim` for `baseModel`, published as `<owner>/esm-<i>` (task `<owner>/task-<i>`):
 * near the identity, each its own weights (cheap uniform noise, so a pool of 1,000 at D = 768 is
 * made in seconds). Returns the repo ids.
 */
export function publishEsmPool(hub: HubStandin, options: { count: number; dim: number; baseModel: string; owner?: string; seed?: number }): string[] {
  const { count, dim, baseModel } = options;
  const owner = options.owner ?? 'esms';
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const uniform = seededUniform((options.seed ?? 1) * 100_003 + i);
    const weight = new Float32Array(dim * dim);
    for (let k = 0; k < weight.length; k++) weight[k] = (uniform() - 0.5) * (0.2 / Math.sqrt(dim));
    for (let k = 0; k < dim; k++) weight[k * dim + k] += 1;
    const bias = Float32Array.from({ length: dim }, () => (uniform() - 0.5) * 0.02);
    const repoId = `${owner}/esm-${String(i).padStart(4, '0')}`;
    const config: EsmConfig = {
      base_model_name: baseModel,
      task_id: `${owner}/task-${i}`,
      task_subset: null,
      text_column: 'text',
      label_column: 'label',
      task_split: 'train',
      num_examples: 1000,
      language: 'en',
      esm_architecture: 'linear',
      esm_embedding_dim: dim,
      version: '0.2.0',
    };
    publishEsm(hub, { repoId, config, weights: esmWeightsFile(weight, bias) });
    ids.push(repoId);
  }
  return ids;
}

/** Uploads every file below a local folder (a Hugging Face model folder) as one commit. */
export async function publishFolder(
  hub: HubStandin,
  type: RepoType,
  repoId: string,
  folder: string,
  extra: Record<string, string | Buffer> = {},
): Promise<Repo> {
  const files: Record<string, Buffer | string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else files[relative(folder, path).split('\\').join('/')] = await readFile(path);
    }
  };
  await walk(folder);
  const repo = hub.store.get(type, repoId) ?? hub.store.create(type, repoId);
  hub.store.commit(repo, 'main', { title: 'Upload folder', files: { ...files, ...extra } });
  return repo;
}

/**
 * The dataset viewer's conversion of a dataset to Parquet: files `{config}/{split}/0000.parquet`, …
 * on the branch `refs/convert/parquet` (big splits are cut into several files).
 */
export function addParquetConversion(hub: HubStandin, datasetId: string, config: string, split: string, files: readonly Buffer[]): void {
  const repo = hub.store.get('dataset', datasetId) ?? hub.store.create('dataset', datasetId);
  const named = Object.fromEntries(files.map((file, i) => [`${config}/${split}/${String(i).padStart(4, '0')}.parquet`, file]));
  hub.store.commit(repo, 'refs/convert/parquet', { title: 'Update parquet files', files: named, orphan: true });
}
