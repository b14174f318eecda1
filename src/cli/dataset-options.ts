import { type Command, Option } from 'commander';
import type { DatasetOptions } from '../dataset/text-dataset.js';
import type { EmbeddingCache } from '../embed/cache.js';
import { type EmbedDatasetOptions, type EmbeddedDataset, embedDataset } from '../embed/embed-dataset.js';
import { UserInputError } from '../errors.js';
import { formatBytes } from '../hub/size-limits.js';
import { TABLE_FORMATS, type TableFormat } from '../io/tables.js';
import { openRegistry } from '../store/database.js';
import { RegistryEmbeddingCache } from '../store/embedding-cache.js';
import { downloadProgress } from './download-progress.js';
import { nonNegativeInteger, positiveInteger } from './errors.js';
import { createProgress, type ProgressReporter } from './progress.js';

/** The flags that name a dataset file and the base model to embed it with (`embed`, `rank --dataset`). */
export interface DatasetFlags {
  dataset?: string;
  textCol?: string[];
  labelCol?: string;
  regression?: boolean;
  numExamples?: number;
  seed: number;
  datasetFormat?: TableFormat;
  subset?: string;
  split?: string;
  model?: string;
  batchSize?: number;
  cache: boolean;
}

export function addDatasetOptions(command: Command): Command {
  return command
    .option('--dataset <file>', 'target dataset: .csv, .tsv, .jsonl or .parquet (a Hugging Face dataset export), or a Hub dataset hf://datasets/ORG/NAME')
    .option('--subset <name>', 'with a Hub dataset: its subset (config); default the only one, else "default"')
    .option('--split <name>', 'with a Hub dataset: its split; default "train"')
    .option('--text-col <column...>', 'text column; several are joined with " [SEP] " as hfselect does')
    .option('--label-col <column>', 'label column')
    .option('--regression', 'the labels are regression targets (default: classification)')
    .option('--num-examples <n>', 'embed a random sample of n rows (reservoir sampling, reproducible with --seed)', positiveInteger)
    .option('--seed <n>', 'seed for --num-examples', nonNegativeInteger, 0)
    .addOption(new Option('--dataset-format <format>', 'dataset format (default: from the file extension)').choices(TABLE_FORMATS))
    .option('--model <name>', 'base model: a folder under the models directory (ESMSELECT_MODELS_DIR, default models/)')
    .option('--batch-size <n>', 'texts per model call', positiveInteger)
    .option('--no-cache', 'embed again even when the embedding cache has these texts');
}

/** How the dataset flags read a dataset (`readTextDataset`'s options); --text-col and --label-col checked by the caller. */
export function datasetReadOptions(
  flags: Partial<Pick<DatasetFlags, 'textCol' | 'labelCol' | 'regression' | 'numExamples' | 'seed' | 'datasetFormat' | 'subset' | 'split'>>,
  onDownload: NonNullable<DatasetOptions['hub']>['onDownload'],
): DatasetOptions {
  return {
    textColumns: flags.textCol!,
    labelColumn: flags.labelCol!,
    task: flags.regression ? 'regression' : 'classification',
    numExamples: flags.numExamples,
    seed: flags.seed,
    format: flags.datasetFormat,
    subset: flags.subset,
    split: flags.split,
    hub: { onDownload },
  };
}

/** The library options for `embedDataset`, or a usage error naming the first missing flag. */
function embedDatasetOptions(
  flags: DatasetFlags,
  progress: ProgressReporter,
  cache: EmbeddingCache | undefined,
  onDownload: NonNullable<EmbedDatasetOptions['hub']>['onDownload'],
): EmbedDatasetOptions & { model: string } {
  const required = { dataset: '--dataset', textCol: '--text-col', labelCol: '--label-col', model: '--model' } as const;
  for (const [key, flag] of Object.entries(required)) {
    if (flags[key as keyof typeof required] === undefined) throw new UserInputError(`${flag} is required with --dataset`, key);
  }
  return {
    ...datasetReadOptions(flags, onDownload),
    model: flags.model!,
    batchSize: flags.batchSize,
    cache,
    onProgress: ({ done, total }) => progress.update(done, total),
  };
}

/**
 * Embeds the dataset the flags name (through the cache) with a progress bar, and says on stderr
 * what happened: rows read, sampled and skipped, the pooling, whether the cache had it.
 */
export async function embedFromFlags(flags: DatasetFlags): Promise<EmbeddedDataset> {
  const progress = createProgress('Embedding', 'texts');
  const downloads = downloadProgress();
  const registry = flags.cache ? openRegistry() : undefined;
  let result: EmbeddedDataset;
  try {
    result = await embedDataset(flags.dataset!, embedDatasetOptions(flags, progress, registry && new RegistryEmbeddingCache(registry), downloads.onProgress));
  } finally {
    downloads.stop();
    progress.stop();
    registry?.close();
  }
  const { dataset, meta, cached } = result;
  const sampled = dataset.texts.length < dataset.rowsRead - dataset.unlabelled ? `, sampled ${dataset.texts.length}` : '';
  const skipped = dataset.unlabelled ? `, skipped ${dataset.unlabelled} labelled -1 (unlabelled, as hfselect does)` : '';
  process.stderr.write(`esmselect: ${describeDataset(dataset)}: ${dataset.rowsRead} rows${skipped}${sampled}\n`);
  process.stderr.write(
    `esmselect: ${cached ? 'embeddings from the cache' : 'embedded'}: ${dataset.texts.length} × ${meta.dim}, model ${meta.model}, pooling ${meta.pooling}, max length ${meta.max_length}\n`,
  );
  return result;
}

/** A dataset as the CLI reports it: the file, or the Hub dataset with what was read of it. */
export function describeDataset(dataset: EmbeddedDataset['dataset']): string {
  const { hub } = dataset;
  if (!hub) return dataset.path;
  const partial = hub.partial ? ', a partial conversion' : '';
  const cache = hub.downloaded ? `${formatBytes(hub.downloaded)} downloaded` : 'from the cache';
  return `${dataset.path} (subset ${hub.subset}, split ${hub.split}; Parquet conversion ${hub.revision.slice(0, 12)}${partial}, ${cache})`;
}
