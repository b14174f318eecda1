import { Command, Option } from 'commander';
import { rank } from '../rank/rank.js';
import { selectScorer } from '../rank/scorers.js';
import { positiveInteger } from './errors.js';
import { formatRanking, OUTPUT_FORMATS, type OutputFormat } from './format.js';
import { createProgress } from './progress.js';

interface RankFlags {
  embeddings: string;
  labels?: string;
  esms: string[];
  regression?: boolean;
  top?: number;
  format: OutputFormat;
}

export function rankCommand(): Command {
  return new Command('rank')
    .description('rank the source tasks of an ESM pool for a target dataset (ESM-LogME)')
    .requiredOption('--embeddings <path>', 'target embeddings: .f32/.bin with a sidecar JSON, .npy, .jsonl, or a harness target directory')
    .option('--labels <file>', 'target labels: .json array, .jsonl, or one label per line (optional if the embeddings carry them)')
    .requiredOption('--esms <dir...>', 'ESM folders (config.json + model.safetensors), or directories searched for them')
    .option('--regression', 'the labels are regression targets (default: classification)')
    .option('--top <k>', 'print only the best k source tasks', positiveInteger)
    .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .action(async (flags: RankFlags) => {
      const { scorer, description } = await selectScorer();
      process.stderr.write(`esmselect: ${description}\n`);
      const progress = createProgress('Scoring ESMs', 'ESMs');
      try {
        const result = await rank({
          scorer,
          embeddings: flags.embeddings,
          labels: flags.labels,
          task: flags.regression ? 'regression' : undefined,
          esms: flags.esms,
          top: flags.top,
          onProgress: ({ done, total }) => progress.update(done, total),
        });
        progress.stop();
        for (const { source, problem } of result.rejected) process.stderr.write(`esmselect: skipped ${source}: ${problem}\n`);
        process.stdout.write(`${formatRanking(result, flags.format)}\n`);
      } finally {
        progress.stop();
      }
    });
}
