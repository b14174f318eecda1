import { Command, Option } from 'commander';
import { deleteEsms, exportEsm } from '../registry/esms.js';
import { type ImportOutcome, importEsmFolders } from '../registry/import.js';
import { type EsmRecord, getEsm, listEsms } from '../store/esms.js';
import { attachTextsCommand } from './attach-texts-command.js';
import { addEsmFilterOptions, type EsmFilterFlags, esmFilterFrom } from './esm-filter.js';
import { trainCommand } from './esm-train-command.js';
import { csvLines, OUTPUT_FORMATS, type OutputFormat, textTable } from './format.js';
import { hubEsmCommands } from './hub-command.js';
import { createProgress } from './progress.js';
import { registryId, withRegistry } from './registry-access.js';

const LIST_HEADERS = ['ID', 'Task ID', 'Subset', 'Split', 'Base model', 'Language', 'Dim', 'Examples', 'Created'];

function listRow(r: EsmRecord): string[] {
  return [
    String(r.id),
    r.task_id,
    r.task_subset ?? '',
    r.task_split ?? '',
    r.base_model_name,
    r.language ?? '',
    String(r.esm_embedding_dim),
    r.num_examples === null ? '' : String(r.num_examples),
    r.created_at,
  ];
}

function listCommand(): Command {
  const command = new Command('list')
    .description('list registered ESMs')
    .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'));
  return addEsmFilterOptions(command).action((flags: EsmFilterFlags & { format: OutputFormat }) =>
    withRegistry((registry) => {
      const records = listEsms(registry, esmFilterFrom(flags));
      const rows = records.map(listRow);
      const text =
        flags.format === 'json'
          ? JSON.stringify(records, null, 2)
          : flags.format === 'csv'
            ? csvLines(LIST_HEADERS, rows)
            : textTable(LIST_HEADERS, rows, (i) => i === 0 || i === 6 || i === 7);
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
        const summary = await importEsmFolders(registry, dirs, { onProgress: ({ done, total }) => progress.update(done, total) }).finally(() =>
          progress.stop(),
        );
        if (flags.format === 'json') {
          process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
          return;
        }
        const shown = (o: ImportOutcome) =>
          o.status === 'rejected' || (o.status === 'skipped' && (flags.verbose || o.reason !== `already registered as #${o.id}`));
        for (const o of summary.outcomes.filter(shown)) process.stdout.write(`${o.status} ${o.source}: ${o.reason}\n`);
        process.stdout.write(`imported ${summary.imported}, skipped ${summary.skipped} (already registered), rejected ${summary.rejected}\n`);
      }),
    );
}

export function esmCommand(): Command {
  const command = new Command('esm')
    .description('manage the registry of source tasks and their ESMs (ESMSELECT_DATA_DIR, default data/)')
    .addCommand(listCommand())
    .addCommand(showCommand())
    .addCommand(importCommand())
    .addCommand(trainCommand())
    .addCommand(exportCommand())
    .addCommand(deleteCommand())
    .addCommand(attachTextsCommand());
  for (const sub of hubEsmCommands()) command.addCommand(sub);
  for (const sub of command.commands) sub.exitOverride();
  return command;
}
