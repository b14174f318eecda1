import { existsSync } from 'node:fs';
import { textsSha256 } from '../embed/cache.js';
import { type EmbedDatasetOptions, embedDataset } from '../embed/embed-dataset.js';
import { UserInputError } from '../errors.js';
import type { EmbeddingSpace } from '../io/embedding-space.js';
import type { Registry } from '../store/database.js';
import { getDataset, registerDataset } from '../store/datasets.js';
import { RegistryEmbeddingCache } from '../store/embedding-cache.js';
import { type EsmRecord, getEsm } from '../store/esms.js';
import { putSourceVectors } from '../store/source-vectors.js';
import type { TaskType } from '../task/labels.js';
import { type IndexUpdate, updateSourceIndexes } from './source-index.js';
import { meanDirection, TEXTEMB_TEXTS } from './textemb.js';

export interface AttachTextsOptions extends Partial<Omit<EmbedDatasetOptions, 'cache'>> {}

export interface AttachedTexts {
  readonly ids: readonly number[];
  readonly space: EmbeddingSpace;
  /** Texts averaged into the vector. */
  readonly texts: number;
  /** Rows the dataset file has. */
  readonly rows: number;
  readonly datasetId: number;
  /** The embeddings came from the embedding cache. */
  readonly cached: boolean;
  readonly updates: readonly IndexUpdate[];
}

/** The one value `pick` gives for every record, or a message naming `field` and the option to give instead. */
function shared<T>(records: readonly EsmRecord[], pick: (r: EsmRecord) => T | null, field: string, option: string): T {
  const values = [...new Set(records.map((r) => JSON.stringify(pick(r))))];
  const value = values.length === 1 ? (JSON.parse(values[0]) as T | null) : null;
  if (value === null) {
    const why = values.length > 1 ? `the ESMs differ in ${field}` : `the ESM's config gives no ${field}`;
    throw new UserInputError(`${field}: ${why}; give ${option}`, field);
  }
  return value;
}

/** A registered dataset as the texts of a source task: its name is the data file, its columns the defaults. */
function registeredTexts(registry: Registry, id: number): { path: string; textColumns?: string | string[]; labelColumn?: string; task?: TaskType } {
  const record = getDataset(registry, id);
  if (!existsSync(record.name))
    throw new UserInputError(`dataset: dataset #${id} (${record.name}) is not a local file; esmselect reads texts from files`, 'dataset');
  return {
    path: record.name,
    textColumns: record.text_column ?? undefined,
    labelColumn: record.label_column ?? undefined,
    task: record.task_type ?? undefined,
  };
}

/**
 * Gives registered source tasks their TextEmb vector from a sample of their texts: up to 1,000
 * rows of the dataset (a data file, or a registered dataset by id whose name is its file) are
 * embedded with the base model (reservoir sampling, reproducible for a seed; through the registry's
 * embedding cache), averaged and normalised (`meanDirection`), and stored for the ESMs'
 * identities; a file is registered as a dataset, and the HNSW index of the embedding space is
 * brought up to date. The text and label columns default to the registered dataset's, else the
 * ESMs' config; the model to the ESMs' base model.
 */
export async function attachSourceTexts(
  registry: Registry,
  ids: readonly number[],
  dataset: string | number,
  options: AttachTextsOptions = {},
): Promise<AttachedTexts> {
  if (ids.length === 0) throw new UserInputError('esm: name at least one ESM', 'esm');
  const records = ids.map((id) => getEsm(registry, id));
  const registered = typeof dataset === 'number' ? registeredTexts(registry, dataset) : undefined;
  const path = registered?.path ?? (dataset as string);
  const model = options.model ?? shared(records, (r) => r.base_model_name, 'base model', '--model');
  const textColumns = options.textColumns ?? registered?.textColumns ?? shared(records, (r) => r.text_column, 'text column', '--text-col');
  const labelColumn = options.labelColumn ?? registered?.labelColumn ?? shared(records, (r) => r.label_column, 'label column', '--label-col');
  const embedded = await embedDataset(path, {
    ...options,
    task: options.task ?? registered?.task,
    model,
    textColumns,
    labelColumn,
    numExamples: options.numExamples ?? TEXTEMB_TEXTS,
    cache: new RegistryEmbeddingCache(registry),
  });
  const first = records[0];
  const datasetId =
    typeof dataset === 'number'
      ? dataset
      : registerDataset(registry, {
          name: dataset,
          subset: first.task_subset,
          split: first.task_split,
          text_column: typeof textColumns === 'string' ? textColumns : [...textColumns],
          label_column: labelColumn,
          task_type: embedded.dataset.task,
          num_rows: embedded.dataset.rowsRead,
        }).id;
  const space = { model: embedded.meta.model, pooling: embedded.meta.pooling };
  putSourceVectors(
    registry,
    records.map((r) => r.identity),
    {
      ...space,
      vector: meanDirection(embedded.embeddings),
      texts: embedded.embeddings.rows,
      texts_sha256: textsSha256(embedded.dataset.texts),
      dataset_id: datasetId,
    },
  );
  return {
    ids,
    space,
    texts: embedded.embeddings.rows,
    rows: embedded.dataset.rowsRead,
    datasetId,
    cached: embedded.cached,
    updates: updateSourceIndexes(registry),
  };
}
