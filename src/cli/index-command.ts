import { Command, Option } from 'commander';
import { sketchRegisteredEsms } from '../registry/esms.js';
import { rebuildSourceIndexes, sourceIndexStatus } from '../retrieval/source-index.js';
import { positiveInteger } from './errors.js';
import { textTable } from './format.js';
import { createProgress } from './progress.js';
import { withRegistry } from './registry-access.js';

function rebuildCommand(): Command {
  return new Command('rebuild')
    .description('rebuild the HNSW index of every embedding space from the registry, and sketch ESMs registered without one')
    .option('--m <n>', 'HNSW links per node (default: as the index was built, else 16)', positiveInteger)
    .option('--ef-construction <n>', 'HNSW candidate list while building (default: as the index was built, else 200)', positiveInteger)
    .action((flags: { m?: number; efConstruction?: number }) =>
      withRegistry(async (registry) => {
        const sketching = createProgress('Sketching ESMs', 'ESMs');
        const sketches = await sketchRegisteredEsms(registry, ({ done, total }) => sketching.update(done, total)).finally(() => sketching.stop());
        for (const { source, problem } of sketches.rejected) process.stderr.write(`esmselect: skipped ${source}: ${problem}\n`);
        const progress = createProgress('Indexing', 'vectors');
        let indexes: ReturnType<typeof rebuildSourceIndexes>;
        try {
          indexes = rebuildSourceIndexes(registry, { hnsw: flags, onProgress: ({ done, total }) => progress.update(done, total) });
        } finally {
          progress.stop();
        }
        for (const index of indexes)
          process.stdout.write(`rebuilt ${index.space}: ${index.size} vectors, M ${index.parameters.m}, efConstruction ${index.parameters.efConstruction}\n`);
        process.stdout.write(
          `rebuilt ${indexes.length} index${indexes.length === 1 ? '' : 'es'}; sketched ${sketches.sketched} ESM weight file${sketches.sketched === 1 ? '' : 's'}\n`,
        );
      }),
    );
}

function statusCommand(): Command {
  return new Command('status')
    .description('check each HNSW index against the registry without changing anything')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action((flags: { format: 'table' | 'json' }) =>
      withRegistry((registry) => {
        const statuses = sourceIndexStatus(registry);
        if (flags.format === 'json') {
          process.stdout.write(`${JSON.stringify(statuses, null, 2)}\n`);
          return;
        }
        const headers = ['Space', 'Vectors', 'Points', 'Deleted', 'State'];
        const rows = statuses.map((s) => [
          s.space,
          String(s.vectors),
          s.points === null ? '' : String(s.points),
          s.deleted === null ? '' : String(s.deleted),
          s.state,
        ]);
        process.stdout.write(`${textTable(headers, rows, (i) => i >= 1 && i <= 3)}\n`);
      }),
    );
}

export function indexCommand(): Command {
  const command = new Command('index')
    .description('the HNSW indexes of source-task TextEmb vectors (one per base model and pooling), used by two-stage ranking')
    .addCommand(rebuildCommand())
    .addCommand(statusCommand());
  for (const sub of command.commands) sub.exitOverride();
  return command;
}
