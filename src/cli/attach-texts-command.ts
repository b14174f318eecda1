import { Command, Option } from 'commander';
import { describeSpace } from '../io/embedding-space.js';
import { TABLE_FORMATS, type TableFormat } from '../io/tables.js';
import { attachSourceTexts } from '../retrieval/source-texts.js';
import { TEXTEMB_TEXTS } from '../retrieval/textemb.js';
import { nonNegativeInteger, positiveInteger } from './errors.js';
import { createProgress } from './progress.js';
import { registryId, withRegistry } from './registry-access.js';

interface AttachFlags {
  dataset: string;
  textCol?: string[];
  labelCol?: string;
  regression?: boolean;
  model?: string;
  numExamples: number;
  seed: number;
  datasetFormat?: TableFormat;
  batchSize?: number;
}

/** `esmselect esm attach-texts`. */
export function attachTextsCommand(): Command {
  return new Command('attach-texts')
    .description(
      'give registered source tasks their TextEmb vector (normalised mean base-model embedding of a sample of their texts) and index it for two-stage ranking',
    )
    .argument('<id...>', 'registry ids of the ESMs of this source task (as esm list shows)')
    .requiredOption('--dataset <file|id>', "the source task's data: a .csv, .tsv, .jsonl or .parquet file, or a registered dataset's id (its name is the file)")
    .option('--text-col <column...>', "text column(s) (default: the registered dataset's, else the ESM config's text_column)")
    .option('--label-col <column>', "label column (default: the registered dataset's, else the ESM config's label_column)")
    .option('--regression', 'the labels are regression targets')
    .option('--model <name>', "base model folder under the models directory (default: the ESM's base_model_name)")
    .option('--num-examples <n>', 'texts to average, sampled uniformly (reservoir sampling)', positiveInteger, TEXTEMB_TEXTS)
    .option('--seed <n>', 'seed for the sample', nonNegativeInteger, 0)
    .addOption(new Option('--dataset-format <format>', 'dataset format (default: from the file extension)').choices(TABLE_FORMATS))
    .option('--batch-size <n>', 'texts per model call', positiveInteger)
    .action((ids: string[], flags: AttachFlags) =>
      withRegistry(async (registry) => {
        const progress = createProgress('Embedding', 'texts');
        // Digits name a registered dataset, as `finetune --source` reads them.
        const dataset = /^\d+$/.test(flags.dataset) ? Number(flags.dataset) : flags.dataset;
        const attached = await attachSourceTexts(registry, ids.map(registryId), dataset, {
          textColumns: flags.textCol,
          labelColumn: flags.labelCol,
          task: flags.regression ? 'regression' : undefined,
          model: flags.model,
          numExamples: flags.numExamples,
          seed: flags.seed,
          format: flags.datasetFormat,
          batchSize: flags.batchSize,
          onProgress: ({ done, total }) => progress.update(done, total),
        }).finally(() => progress.stop());
        const from = attached.cached ? ', embeddings from the cache' : '';
        process.stdout.write(
          `attached ${attached.texts} of ${attached.rows} texts to ${attached.ids.map((id) => `#${id}`).join(' ')} in ${describeSpace(attached.space)}${from}\n`,
        );
        for (const u of attached.updates) {
          process.stdout.write(`index ${u.space}: ${u.rebuilt ? `rebuilt (${u.rebuilt})` : `+${u.added} −${u.removed}`}\n`);
        }
      }),
    );
}

/**
 * `esmselect source attach-texts`, the spelling before `esm attach-texts`: hidden from the help and
 * kept for one release, with a one-line notice on stderr.
 */
export function deprecatedSourceCommand(): Command {
  const attach = attachTextsCommand().hook('preAction', () => {
    process.stderr.write('esmselect: "source attach-texts" is deprecated; use "esm attach-texts"\n');
  });
  const command = new Command('source').description('deprecated: use esm attach-texts').addCommand(attach);
  for (const sub of command.commands) sub.exitOverride();
  return command;
}
