import { Command } from 'commander';
import { embedDataset } from '../embed/embed-dataset.js';
import { UserInputError } from '../errors.js';
import { writeEmbeddingFile } from '../io/embedding-files.js';
import { writeFileAtomic } from '../io/atomic.js';
import { addDatasetOptions, embedDatasetOptions, reportEmbedded, type DatasetFlags } from './dataset-options.js';
import { createProgress } from './progress.js';

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
      const progress = createProgress('Embedding', 'texts');
      try {
        const { path, options } = embedDatasetOptions(flags, progress);
        const result = await embedDataset(path, options);
        progress.stop();
        reportEmbedded(result);
        const { dataset, embeddings, meta } = result;
        await writeEmbeddingFile(flags.out, embeddings, { ...meta, dataset: dataset.path, task: dataset.task }, dataset.labels);
        if (/\.(jsonl|ndjson)$/i.test(flags.out)) {
          process.stderr.write(`esmselect: wrote ${flags.out} (labels included${dataset.task === 'regression' ? '; rank with --regression' : ''})\n`);
        } else {
          // .npy and raw float32 carry no labels: they go beside, in the JSON array `rank --labels` reads.
          const labels = `${flags.out}.labels.json`;
          await writeFileAtomic(labels, `${JSON.stringify(dataset.labels)}\n`);
          process.stderr.write(`esmselect: wrote ${flags.out} and ${labels} (rank with --embeddings ${flags.out} --labels ${labels}${dataset.task === 'regression' ? ' --regression' : ''})\n`);
        }
      } finally {
        progress.stop();
      }
    });
}
