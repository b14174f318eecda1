import { Command, Option } from 'commander';
import { UserInputError } from '../errors.js';
import { trainEsm, type EsmTrainingSettings } from '../esm/train.js';
import { readEmbeddingFile } from '../io/embedding-files.js';
import { openRegistry, type Registry } from '../store/database.js';
import { deleteEsms, exportEsm, getEsm, listEsms, registerEsm, type EsmRecord } from '../store/esms.js';
import { importEsmFolders, type ImportOutcome } from '../store/import.js';
import { fraction, nonNegativeInteger, nonNegativeNumber, positiveInteger, positiveNumber } from './errors.js';
import { addEsmFilterOptions, esmFilterFrom, type EsmFilterFlags } from './esm-filter.js';
import { hubEsmCommands } from './hub-command.js';
import { csvLines, OUTPUT_FORMATS, textTable, type OutputFormat } from './format.js';
import { createProgress } from './progress.js';

/** Opens the registry for one command and closes it however the command ends. */
export async function withRegistry<T>(work: (registry: Registry) => Promise<T> | T): Promise<T> {
  const registry = openRegistry();
  try {
    return await work(registry);
  } finally {
    registry.close();
  }
}

export function registryId(value: string): number {
  const id = Number(value.replace(/^(registry)?#/, ''));
  if (!Number.isSafeInteger(id) || id <= 0) throw new UserInputError(`esm: "${value}" is not an ESM id (a positive integer, as esm list shows)`, 'esm');
  return id;
}

const LIST_HEADERS = ['ID', 'Task ID', 'Subset', 'Split', 'Base model', 'Language', 'Dim', 'Examples', 'Created'];

function listRow(r: EsmRecord): string[] {
  return [String(r.id), r.task_id, r.task_subset ?? '', r.task_split ?? '', r.base_model_name, r.language ?? '', String(r.esm_embedding_dim), r.num_examples === null ? '' : String(r.num_examples), r.created_at];
}

function listCommand(): Command {
  const command = new Command('list').description('list registered ESMs').addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'));
  return addEsmFilterOptions(command).action((flags: EsmFilterFlags & { format: OutputFormat }) =>
    withRegistry((registry) => {
      const records = listEsms(registry, esmFilterFrom(flags));
      const rows = records.map(listRow);
      const text = flags.format === 'json' ? JSON.stringify(records, null, 2) : flags.format === 'csv' ? csvLines(LIST_HEADERS, rows) : textTable(LIST_HEADERS, rows, (i) => i === 0 || i === 6 || i === 7);
      process.stdout.write(`${text}\n`);
    }),
  );
}

function showCommand(): Command {
  return new Command('show')
    .description('print one registered ESM as JSON: metadata, config, weights file and checksum, training report')
    .argument('<id>', 'registry id')
    .action((id: string) =>
      withRegistry((registry) => {
        process.stdout.write(`${JSON.stringify(getEsm(registry, registryId(id)), null, 2)}\n`);
      }),
    );
}

function deleteCommand(): Command {
  return new Command('delete')
    .description('delete registered ESMs: rows and weights files together')
    .argument('<id...>', 'registry ids')
    .action((ids: string[]) =>
      withRegistry((registry) => {
        for (const r of deleteEsms(registry, ids.map(registryId))) process.stdout.write(`deleted #${r.id} ${r.task_id}\n`);
      }),
    );
}

function exportCommand(): Command {
  return new Command('export')
    .description('write a registered ESM as an hfselect folder (config.json + model.safetensors), ready to publish')
    .argument('<id>', 'registry id')
    .argument('<dir>', 'folder to write')
    .action((id: string, dir: string) =>
      withRegistry(async (registry) => {
        const record = await exportEsm(registry, registryId(id), dir);
        process.stdout.write(`exported #${record.id} ${record.task_id} to ${dir}\n`);
      }),
    );
}

function importCommand(): Command {
  return new Command('import')
    .description('import hfselect ESM folders (searched recursively); a rerun skips what is registered and finishes the rest')
    .argument('<dir...>', 'ESM folders, or directories to search')
    .option('--verbose', 'list every skipped ESM, not only the rejected ones')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action((dirs: string[], flags: { verbose?: boolean; format: 'text' | 'json' }) =>
      withRegistry(async (registry) => {
        const progress = createProgress('Importing ESMs', 'ESMs');
        const summary = await importEsmFolders(registry, dirs, { onProgress: ({ done, total }) => progress.update(done, total) }).finally(() => progress.stop());
        if (flags.format === 'json') {
          process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
          return;
        }
        const shown = (o: ImportOutcome) => o.status === 'rejected' || (o.status === 'skipped' && (flags.verbose || o.reason !== `already registered as #${o.id}`));
        for (const o of summary.outcomes.filter(shown)) process.stdout.write(`${o.status} ${o.source}: ${o.reason}\n`);
        process.stdout.write(`imported ${summary.imported}, skipped ${summary.skipped} (already registered), rejected ${summary.rejected}\n`);
      }),
    );
}

interface TrainFlags extends Partial<EsmTrainingSettings> {
  base: string;
  tuned: string;
  taskId: string;
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

function trainCommand(): Command {
  return new Command('train')
    .description("fit an ESM to embeddings of the same texts from the base model and the fine-tuned model (hfselect's recipe), register it")
    .requiredOption('--base <file>', 'embeddings from the base model (.npy, .f32/.bin with sidecar, .jsonl)')
    .requiredOption('--tuned <file>', 'embeddings of the same texts, in the same order, from the model fine-tuned on the source task')
    .requiredOption('--task-id <id>', 'the source task (dataset id), e.g. glue')
    .requiredOption('--base-model <name>', 'the base model, e.g. google-bert/bert-base-uncased')
    .option('--task-subset <name>', 'dataset subset (config)')
    .option('--task-split <name>', 'dataset split the texts came from')
    .option('--text-column <name...>', 'text column(s)')
    .option('--label-column <name>', 'label column')
    .option('--language <code>', 'language of the texts')
    .option('--pooling <name>', 'how the embeddings were pooled (mean, cls, …), recorded in the config')
    .option('--epochs <n>', 'epochs (default 10)', positiveInteger)
    .option('--batch-size <n>', 'batch size (default 32)', positiveInteger)
    .option('--learning-rate <lr>', 'AdamW peak learning rate (default 0.01)', positiveNumber)
    .option('--weight-decay <w>', 'AdamW decoupled weight decay (default 0.01)', nonNegativeNumber)
    .option('--warmup-steps <n>', 'linear warm-up steps (default 0)', nonNegativeInteger)
    .option('--max-grad-norm <g>', 'clip the global gradient norm to this (default 1.0)', positiveNumber)
    .option('--held-out <fraction>', 'fraction of pairs held out for R² (default 0.1)', fraction)
    .option('--seed <n>', 'seed for the split, initialisation and batch order (default 0)', nonNegativeInteger)
    .option('--export <dir>', 'also write the ESM as an hfselect folder')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (flags: TrainFlags) => {
      const [base, tuned] = await Promise.all([readEmbeddingFile(flags.base), readEmbeddingFile(flags.tuned)]);
      const text = flags.textColumn && (flags.textColumn.length === 1 ? flags.textColumn[0] : flags.textColumn);
      const { esm, report } = await trainEsm(
        base.embeddings,
        tuned.embeddings,
        {
          task_id: flags.taskId,
          base_model_name: flags.baseModel,
          task_subset: flags.taskSubset,
          task_split: flags.taskSplit,
          text_column: text,
          label_column: flags.labelColumn,
          language: flags.language,
          ...(flags.pooling === undefined ? {} : { pooling: flags.pooling }),
        },
        {
          epochs: flags.epochs,
          batchSize: flags.batchSize,
          learningRate: flags.learningRate,
          weightDecay: flags.weightDecay,
          warmupSteps: flags.warmupSteps,
          maxGradNorm: flags.maxGradNorm,
          heldOutFraction: flags.heldOut,
          seed: flags.seed,
          onEpoch: ({ epoch, epochs, loss }) => process.stderr.write(`epoch ${epoch}/${epochs}: loss ${loss.toPrecision(6)}\n`),
        },
      );
      await withRegistry(async (registry) => {
        const outcome = await registerEsm(registry, esm, { origin: 'trained', training: report });
        if (flags.export) await exportEsm(registry, outcome.record.id, flags.export);
        if (flags.format === 'json') {
          process.stdout.write(`${JSON.stringify({ id: outcome.record.id, status: outcome.status, report }, null, 2)}\n`);
          return;
        }
        const r2 = report.heldOutR2 === null ? 'no held-out pairs' : `held-out R² ${report.heldOutR2.toFixed(4)} on ${report.heldOutRows} pairs`;
        const registered = outcome.status === 'imported' ? `registered as #${outcome.record.id}` : `already registered as #${outcome.record.id}`;
        process.stdout.write(`${registered} ${esm.taskId}: ${r2}${flags.export ? `; exported to ${flags.export}` : ''}\n`);
      });
    });
}

export function esmCommand(): Command {
  const command = new Command('esm')
    .description('manage the registry of source tasks and their ESMs (ESMSELECT_DATA_DIR, default data/)')
    .addCommand(listCommand())
    .addCommand(showCommand())
    .addCommand(importCommand())
    .addCommand(trainCommand())
    .addCommand(exportCommand())
    .addCommand(deleteCommand());
  for (const sub of hubEsmCommands()) command.addCommand(sub);
  for (const sub of command.commands) sub.exitOverride();
  return command;
}
