import { Command, Option } from 'commander';
import { UserInputError } from '../errors.js';
import type { EmbeddingSpaceMap } from '../esm/esm.js';
import type { EsmMetadata, EsmTrainingOptions, EsmTrainingReport, EsmTrainingSettings } from '../esm/train.js';
import { trainEsm } from '../esm/train.js';
import { trainEsmWithModels } from '../finetune/esm-with-models.js';
import { readEmbeddingFile } from '../io/embedding-files.js';
import { TABLE_FORMATS, type TableFormat } from '../io/tables.js';
import { exportEsm, registerEsm } from '../registry/esms.js';
import { openRegistry, type Registry } from '../store/database.js';
import { RegistryEmbeddingCache } from '../store/embedding-cache.js';
import { datasetReadOptions, describeDataset } from './dataset-options.js';
import { downloadProgress } from './download-progress.js';
import { fraction, nonNegativeInteger, nonNegativeNumber, positiveInteger, positiveNumber } from './errors.js';
import { createProgress, type ProgressReporter } from './progress.js';

interface TrainFlags extends Partial<EsmTrainingSettings> {
  base?: string;
  tuned?: string;
  dataset?: string;
  subset?: string;
  split?: string;
  textCol?: string[];
  labelCol?: string;
  regression?: boolean;
  numExamples?: number;
  datasetFormat?: TableFormat;
  tunedModel?: string;
  pull: boolean;
  taskId?: string;
  baseModel: string;
  taskSubset?: string;
  taskSplit?: string;
  textColumn?: string[];
  labelColumn?: string;
  language?: string;
  pooling?: string;
  heldOut?: number;
  export?: string;
  format: 'text' | 'json';
}

function trainingOptions(flags: TrainFlags): EsmTrainingOptions {
  return {
    epochs: flags.epochs,
    batchSize: flags.batchSize,
    learningRate: flags.learningRate,
    weightDecay: flags.weightDecay,
    warmupSteps: flags.warmupSteps,
    maxGradNorm: flags.maxGradNorm,
    heldOutFraction: flags.heldOut,
    seed: flags.seed,
    onEpoch: ({ epoch, epochs, loss }) => process.stderr.write(`epoch ${epoch}/${epochs}: loss ${loss.toPrecision(6)}\n`),
  };
}

/** The ESM's description from the flags that give it (unset ones left to the defaults). */
function metadataFlags(flags: TrainFlags): Partial<EsmMetadata> {
  const text = flags.textColumn && (flags.textColumn.length === 1 ? flags.textColumn[0] : flags.textColumn);
  return {
    task_id: flags.taskId,
    task_subset: flags.taskSubset,
    task_split: flags.taskSplit,
    text_column: text,
    label_column: flags.labelColumn,
    language: flags.language,
    ...(flags.pooling === undefined ? {} : { pooling: flags.pooling }),
  };
}

/** `--base` and `--tuned`: embeddings computed elsewhere. */
async function fromEmbeddings(flags: TrainFlags): Promise<{ esm: EmbeddingSpaceMap; report: EsmTrainingReport }> {
  if (flags.taskId === undefined) throw new UserInputError('--task-id is required with --base and --tuned', 'task_id');
  const [base, tuned] = await Promise.all([readEmbeddingFile(flags.base!), readEmbeddingFile(flags.tuned!)]);
  return trainEsm(
    base.embeddings,
    tuned.embeddings,
    { ...metadataFlags(flags), task_id: flags.taskId, base_model_name: flags.baseModel },
    trainingOptions(flags),
  );
}

/** `--dataset` with `--tuned-model`: both models embed the dataset's texts (pulled from the Hub when missing). */
async function fromModels(flags: TrainFlags, registry: Registry): Promise<{ esm: EmbeddingSpaceMap; report: EsmTrainingReport }> {
  for (const [key, flag] of [
    ['textCol', '--text-col'],
    ['labelCol', '--label-col'],
    ['tunedModel', '--tuned-model'],
  ] as const) {
    if (flags[key] === undefined) throw new UserInputError(`${flag} is required with --dataset`, key);
  }
  const downloads = downloadProgress();
  let embedding: ProgressReporter | null = null;
  let embeddingModel = '';
  const stop = () => {
    downloads.stop();
    embedding?.stop();
    embedding = null;
  };
  const say = (line: string) => {
    stop();
    process.stderr.write(`esmselect: ${line}\n`);
  };
  try {
    const trained = await trainEsmWithModels({
      ...trainingOptions(flags),
      dataset: flags.dataset!,
      datasetOptions: datasetReadOptions(flags, downloads.onProgress),
      baseModel: flags.baseModel,
      tunedModel: flags.tunedModel!,
      metadata: metadataFlags(flags),
      cache: new RegistryEmbeddingCache(registry),
      pullMissing: flags.pull,
      onNote: (note) => say(`note: ${note}`),
      onDownload: downloads.onProgress,
      onEmbedProgress: ({ model, done, total }) => {
        if (model !== embeddingModel) {
          embedding?.stop();
          embedding = createProgress(`Embedding with ${model}`, 'texts');
          embeddingModel = model;
        }
        embedding!.update(done, total);
      },
    });
    stop();
    const engine = (name: 'base' | 'tuned') => (trained.engines[name] === 'onnx' ? 'ONNX' : 'TensorFlow.js encoder');
    process.stderr.write(`esmselect: ${describeDataset(trained.dataset)}: ${trained.dataset.texts.length} texts, pooling ${trained.pooling}\n`);
    process.stderr.write(`esmselect: embedded with ${flags.baseModel} (${engine('base')}) and ${flags.tunedModel} (${engine('tuned')})\n`);
    return trained;
  } finally {
    stop();
  }
}

export function trainCommand(): Command {
  return new Command('train')
    .description(
      "fit an ESM to embeddings of the same texts from the base model and the fine-tuned model (hfselect's recipe), register it; from embedding files (--base, --tuned) or from the models themselves (--dataset, --tuned-model)",
    )
    .option('--base <file>', 'embeddings from the base model (.npy, .f32/.bin with sidecar, .jsonl)')
    .option('--tuned <file>', 'embeddings of the same texts, in the same order, from the model fine-tuned on the source task')
    .option(
      '--dataset <file>',
      "instead of --base/--tuned: the source task's texts, a .csv, .tsv, .jsonl or .parquet file or a Hub dataset hf://datasets/ORG/NAME, embedded by both models",
    )
    .option('--subset <name>', 'with a Hub dataset: its subset (config)')
    .option('--split <name>', 'with a Hub dataset: its split (default "train")')
    .option('--text-col <column...>', 'with --dataset: text column(s), joined with " [SEP] "')
    .option('--label-col <column>', 'with --dataset: label column')
    .option('--regression', 'with --dataset: the labels are regression targets')
    .option('--num-examples <n>', 'with --dataset: a random sample of n rows (reservoir sampling with --seed)', positiveInteger)
    .addOption(new Option('--dataset-format <format>', 'with --dataset: its format (default: from the file extension)').choices(TABLE_FORMATS))
    .option(
      '--tuned-model <name>',
      'with --dataset: the fine-tuned model, a folder under the models directory or a Hub model pulled when missing (safetensors only is enough)',
    )
    .option('--no-pull', 'with --dataset: never pull a missing model from the Hub')
    .requiredOption(
      '--base-model <name>',
      'the base model, e.g. google-bert/bert-base-uncased (with --dataset also the folder it embeds with, pulled when missing)',
    )
    .option('--task-id <id>', 'the source task (dataset id), e.g. glue; with --dataset default the Hub dataset id or the file name')
    .option('--task-subset <name>', 'dataset subset (config); with a Hub dataset default the subset read')
    .option('--task-split <name>', 'dataset split the texts came from; with a Hub dataset default the split read')
    .option('--text-column <name...>', 'text column(s) recorded in the config (default --text-col)')
    .option('--label-column <name>', 'label column recorded in the config (default --label-col)')
    .option('--language <code>', 'language of the texts')
    .option('--pooling <name>', 'how the embeddings were pooled (mean, cls, …), recorded in the config')
    .option('--epochs <n>', 'epochs (default 10)', positiveInteger)
    .option('--batch-size <n>', 'batch size (default 32)', positiveInteger)
    .option('--learning-rate <lr>', 'AdamW peak learning rate (default 0.01)', positiveNumber)
    .option('--weight-decay <w>', 'AdamW decoupled weight decay (default 0.01)', nonNegativeNumber)
    .option('--warmup-steps <n>', 'linear warm-up steps (default 0)', nonNegativeInteger)
    .option('--max-grad-norm <g>', 'clip the global gradient norm to this (default 1.0)', positiveNumber)
    .option('--held-out <fraction>', 'fraction of pairs held out for R² (default 0.1)', fraction)
    .option('--seed <n>', 'seed for the split, initialisation and batch order, and --num-examples (default 0)', nonNegativeInteger)
    .option('--export <dir>', 'also write the ESM as an hfselect folder')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (flags: TrainFlags) => {
      const fromFiles = flags.base !== undefined || flags.tuned !== undefined;
      if (fromFiles === (flags.dataset !== undefined))
        throw new UserInputError('give either --base and --tuned (embedding files) or --dataset with --tuned-model (the models embed it)', 'dataset');
      if (fromFiles && (flags.base === undefined || flags.tuned === undefined))
        throw new UserInputError(
          `${flags.base === undefined ? '--base' : '--tuned'} is required with ${flags.base === undefined ? '--tuned' : '--base'}`,
          'base',
        );
      const registry = openRegistry();
      try {
        const { esm, report } = fromFiles ? await fromEmbeddings(flags) : await fromModels(flags, registry);
        const outcome = await registerEsm(registry, esm, { origin: 'trained', training: report });
        if (flags.export) await exportEsm(registry, outcome.record.id, flags.export);
        if (flags.format === 'json') {
          process.stdout.write(`${JSON.stringify({ id: outcome.record.id, status: outcome.status, report }, null, 2)}\n`);
          return;
        }
        const r2 = report.heldOutR2 === null ? 'no held-out pairs' : `held-out R² ${report.heldOutR2.toFixed(4)} on ${report.heldOutRows} pairs`;
        const registered = outcome.status === 'imported' ? `registered as #${outcome.record.id}` : `already registered as #${outcome.record.id}`;
        process.stdout.write(`${registered} ${esm.taskId}: ${r2}${flags.export ? `; exported to ${flags.export}` : ''}\n`);
      } finally {
        registry.close();
      }
    });
}
