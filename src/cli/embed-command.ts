import { Command } from 'commander';
import { UserInputError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { writeEmbeddingFile } from '../io/embedding-files.js';
import { addDatasetOptions, type DatasetFlags, embedFromFlags } from './dataset-options.js';

const OUTPUT = /\.(npy|f32|bin|jsonl|ndjson)$/i;

interface EmbedFlags extends DatasetFlags {
  out: string;
}

export function embedCommand(): Command {
  return addDatasetOptions(new Command('embed').description('embed a dataset file with a base model, as hfselect does, for `rank --embeddings`'))
    .requiredOption('--out <file>', 'where to write the embeddings: .npy, .f32/.bin (with a .json sidecar) or .jsonl (with the labels)')
    .action(async (flags: EmbedFlags) => {
      if (!flags.dataset) throw new UserInputError('--dataset is required', 'dataset');
      if (!OUTPUT.test(flags.out)) throw new UserInputError(`--out: ${flags.out}: unknown format; use .npy, .f32, .bin or .jsonl`, 'out');
      const { dataset, embeddings, meta } = await embedFromFlags(flags);
      await writeEmbeddingFile(flags.out, embeddings, { ...meta, dataset: dataset.path, task: dataset.task }, dataset.labels);
      const regression = dataset.task === 'regression' ? ' --regression' : '';
      if (/\.(jsonl|ndjson)$/i.test(flags.out)) {
        process.stderr.write(`esmselect: wrote ${flags.out} with the labels (rank with --embeddings ${flags.out}${regression})\n`);
        return;
      }
      // .npy and raw float32 carry no labels: they go beside, in the JSON array `rank --labels` reads.
      const labels = `${flags.out}.labels.json`;
      await writeFileAtomic(labels, `${JSON.stringify(dataset.labels)}\n`);
      process.stderr.write(`esmselect: wrote ${flags.out} and ${labels} (rank with --embeddings ${flags.out} --labels ${labels}${regression})\n`);
    });
}
