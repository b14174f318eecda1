import { Command, InvalidArgumentError, Option } from 'commander';
import { UserInputError } from '../errors.js';
import { rank } from '../rank/rank.js';
import type { RankedTask } from '../rank/ranking.js';
import { selectScorer } from '../rank/scorers.js';
import { type Candidates, DEFAULT_CANDIDATES, DEFAULT_FIRST_STAGE, FIRST_STAGES, type FirstStageName, type StageCounts } from '../rank/two-stage.js';
import { registryPool } from '../registry/pool.js';
import { HNSW_DEFAULTS } from '../retrieval/hnsw-index.js';
import { openRegistry } from '../store/database.js';
import { addDatasetOptions, type DatasetFlags, embedFromFlags } from './dataset-options.js';
import { positiveInteger } from './errors.js';
import { addEsmFilterOptions, type EsmFilterFlags, esmFilterFrom, REGISTRY, registrySelected } from './esm-filter.js';
import { formatRanking, OUTPUT_FORMATS, type OutputFormat } from './format.js';
import { checkHubUsable, HUB, hubPoolFilter, hubSelected } from './hub-rank.js';
import { createProgress } from './progress.js';

interface RankFlags extends DatasetFlags, EsmFilterFlags {
  embeddings?: string;
  labels?: string;
  esms: string[];
  top?: number;
  format: OutputFormat;
  candidates: Candidates;
  firstStage: FirstStageName;
  efSearch?: number;
}

function candidates(value: string): Candidates {
  if (value === 'all') return 'all';
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer or "all"');
  return n;
}

/** One line per stage on stderr: what each considered, and anything the first stage had to do. */
function reportStages(stages: StageCounts): void {
  const { first, second } = stages;
  if (first) {
    const unindexed = first.unindexed ? `, ${first.unindexed} unindexed (no ${first.stage === 'textemb' ? 'texts' : 'sketch'}: passed on)` : '';
    process.stderr.write(
      `esmselect: stage 1 (${first.stage}): ${first.considered} sources, ${first.indexed} indexed${unindexed}; kept ${first.selected} (${first.seconds.toFixed(2)} s)\n`,
    );
    for (const note of first.notes) process.stderr.write(`esmselect: note: ${note}\n`);
  }
  process.stderr.write(`esmselect: stage 2 (ESM-LogME): ${second.considered} sources (${second.seconds.toFixed(2)} s)\n`);
}

/** The target as embeddings + labels: given, or embedded from a dataset file (`--dataset`). */
async function target(flags: RankFlags) {
  if ((flags.embeddings === undefined) === (flags.dataset === undefined)) {
    throw new UserInputError('give the target as either --embeddings or --dataset (with --text-col, --label-col and --model)', 'embeddings');
  }
  if (flags.embeddings !== undefined) {
    return { embeddings: flags.embeddings, labels: flags.labels, task: flags.regression ? ('regression' as const) : undefined };
  }
  if (flags.labels !== undefined) throw new UserInputError('--labels goes with --embeddings; with --dataset the labels come from --label-col', 'labels');
  const { embeddings, dataset, meta } = await embedFromFlags(flags);
  return { embeddings, labels: dataset.labels, task: dataset.task, space: { model: meta.model, pooling: meta.pooling } };
}

/** ESMs map one base model's space; scores of ESMs trained against another model compare nothing. */
function noteOtherBaseModels(model: string, ranking: readonly RankedTask[]): void {
  const short = (name: string) => name.split('/').pop()!.toLowerCase();
  const others = [...new Set(ranking.map((t) => t.base_model_name).filter((name) => short(name) !== short(model)))];
  if (others.length) process.stderr.write(`esmselect: note: ESMs listed here were trained against ${others.join(', ')}, not ${model}\n`);
}

/** The registry to rank from with `--esms registry` or `--esms hub`. */
function registryFor(flags: RankFlags) {
  return hubSelected(flags.esms) || registrySelected(flags.esms, flags) ? openRegistry() : undefined;
}

export function rankCommand(): Command {
  const command = addDatasetOptions(
    new Command('rank')
      .description('rank the source tasks of an ESM pool for a target dataset (ESM-LogME)')
      .option('--embeddings <path>', 'target embeddings: .f32/.bin with a sidecar JSON, .npy, .jsonl, or a harness target directory')
      .option('--labels <file>', 'with --embeddings: target labels, .json array, .jsonl, or one label per line (optional if the embeddings carry them)'),
  )
    .requiredOption(
      '--esms <dir...>',
      `ESM folders (config.json + model.safetensors), directories searched for them, "${REGISTRY}" for the registered ESMs, or "${HUB}" for the ESMs published on the Hugging Face Hub for the base model (--base-model, else --model; pulled into the registry first)`,
    )
    .option('--top <k>', 'print only the best k source tasks', positiveInteger)
    .option(
      '--candidates <k>',
      `two-stage ranking: score only the k sources the first stage finds most promising (plus every unindexed one) with ESM-LogME; "all" scores every source`,
      candidates,
      DEFAULT_CANDIDATES,
    )
    .addOption(
      new Option('--first-stage <stage>', 'first stage: textemb (TextEmb cosine through the HNSW index) or esm-means (ESM-mapped class means)')
        .choices(FIRST_STAGES)
        .default(DEFAULT_FIRST_STAGE),
    )
    .option('--ef-search <n>', `HNSW candidate list while searching (default ${HNSW_DEFAULTS.efSearch}, at least k)`, positiveInteger)
    .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .action(async (flags: RankFlags) => {
      if (hubSelected(flags.esms)) checkHubUsable(flags);
      const registry = registryFor(flags);
      try {
        const given = await target(flags);
        const filter = hubSelected(flags.esms) ? await hubPoolFilter(registry!, flags) : esmFilterFrom(flags);
        const { scorer, description } = await selectScorer();
        const progress = createProgress('Scoring ESMs', 'ESMs');
        try {
          const result = await rank({
            ...given,
            scorer,
            esms: registry ? registryPool(registry, filter) : flags.esms,
            top: flags.top,
            candidates: flags.candidates,
            firstStage: flags.firstStage,
            efSearch: flags.efSearch,
            onProgress: ({ done, total }) => progress.update(done, total),
          });
          progress.stop();
          // After the fact, so that bad input still gets exactly one line.
          process.stderr.write(`esmselect: scored ${result.scored} ESMs in ${result.seconds.toFixed(1)} s; ${description}\n`);
          if (registry) reportStages(result.stages);
          for (const { source, problem } of result.rejected) process.stderr.write(`esmselect: skipped ${source}: ${problem}\n`);
          if (flags.model) noteOtherBaseModels(flags.model, result.ranking);
          process.stdout.write(`${formatRanking(result, flags.format)}\n`);
        } finally {
          progress.stop();
        }
      } finally {
        registry?.close();
      }
    });
  return addEsmFilterOptions(command);
}
