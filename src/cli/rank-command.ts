import { Command, Option } from 'commander';
import { UserInputError } from '../errors.js';
import { rank } from '../rank/rank.js';
import { openRegistry } from '../store/database.js';
import { registryPool } from '../store/esms.js';
import { positiveInteger } from './errors.js';
import { addEsmFilterOptions, esmFilterFrom, type EsmFilterFlags } from './esm-filter.js';
import { formatRanking, OUTPUT_FORMATS, type OutputFormat } from './format.js';
import { createProgress } from './progress.js';

interface RankFlags extends EsmFilterFlags {
  embeddings: string;
  labels?: string;
  esms: string[];
  regression?: boolean;
  top?: number;
  format: OutputFormat;
}

/** `--esms registry` ranks the registered ESMs, narrowed by the filter options, instead of folders. */
const REGISTRY = 'registry';

export function rankCommand(): Command {
  const command = new Command('rank')
    .description('rank the source tasks of an ESM pool for a target dataset (ESM-LogME)')
    .requiredOption('--embeddings <path>', 'target embeddings: .f32/.bin with a sidecar JSON, .npy, .jsonl, or a harness target directory')
    .option('--labels <file>', 'target labels: .json array, .jsonl, or one label per line (optional if the embeddings carry them)')
    .requiredOption('--esms <dir...>', `ESM folders (config.json + model.safetensors), directories searched for them, or "${REGISTRY}" for the registered ESMs`)
    .option('--regression', 'the labels are regression targets (default: classification)')
    .option('--top <k>', 'print only the best k source tasks', positiveInteger)
    .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .action(async (flags: RankFlags) => {
      const registry = registryFor(flags);
      const progress = createProgress('Scoring ESMs', 'ESMs');
      try {
        const result = await rank({
          embeddings: flags.embeddings,
          labels: flags.labels,
          task: flags.regression ? 'regression' : undefined,
          esms: registry ? registryPool(registry, esmFilterFrom(flags)) : flags.esms,
          top: flags.top,
          onProgress: ({ done, total }) => progress.update(done, total),
        });
        progress.stop();
        for (const { source, problem } of result.rejected) process.stderr.write(`esmselect: skipped ${source}: ${problem}\n`);
        process.stdout.write(`${formatRanking(result, flags.format)}\n`);
      } finally {
        progress.stop();
        registry?.close();
      }
    });
  return addEsmFilterOptions(command);
}

/** The registry to rank from with `--esms registry`; the filters only make sense with it. */
function registryFor(flags: RankFlags) {
  if (flags.esms.length === 1 && flags.esms[0] === REGISTRY) return openRegistry();
  if (Object.keys(esmFilterFrom(flags)).length > 0) {
    throw new UserInputError(`esms: the filters (--base-model, --language, --task, --architecture, --dim) select from the registry; use --esms ${REGISTRY}`, 'esms');
  }
  return undefined;
}
