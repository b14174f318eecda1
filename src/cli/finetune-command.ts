import { stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { z } from 'zod';
import { dataDir } from '../config.js';
import { readTextDataset, type TextDataset } from '../dataset/text-dataset.js';
import { UserInputError } from '../errors.js';
import type { TextTask } from '../finetune/data.js';
import { type FinetuneEvent, type FinetuneResult, type FinetuneRunOptions, type FinetuneSpec, newJobId, readJobRecord, runFinetune } from '../finetune/job.js';
import { MASK_NAMES, type MaskName } from '../finetune/masking/strategy.js';
import type { EvaluationMetrics } from '../finetune/metrics.js';
import type { StageSettingsInput } from '../finetune/settings.js';
import type { StageReport } from '../finetune/trainer.js';
import { hubDatasetId, isHubDataset } from '../hub/dataset-uri.js';
import { TABLE_FORMATS, type TableFormat } from '../io/tables.js';
import { registerEsm } from '../registry/esms.js';
import { findSourceDataset, locateSourceData, readHubSourceTask, readRegisteredTask, taskFromDataset } from '../registry/sources.js';
import { getEsm } from '../store/esms.js';
import type { TaskType } from '../task/labels.js';
import { downloadProgress } from './download-progress.js';
import { nonNegativeInteger, positiveInteger, positiveNumber } from './errors.js';
import { createProgress, type ProgressReporter } from './progress.js';
import { registryId, withRegistry } from './registry-access.js';

interface FinetuneFlags {
  source?: string;
  target?: string;
  targetEval?: string;
  model?: string;
  textCol: string[];
  labelCol: string;
  datasetFormat?: TableFormat;
  sourceTextCol?: string[];
  sourceLabelCol?: string;
  sourceSubset?: string;
  sourceSplit?: string;
  regression?: boolean;
  sourceRegression?: boolean;
  mask?: MaskName;
  epochs?: number;
  learningRate?: number;
  batchSize?: number;
  seed?: number;
  set: string[];
  intermediateSet: string[];
  targetSet: string[];
  maxLength?: number;
  out?: string;
  resume?: string;
  register: boolean;
  format: 'table' | 'json';
}

/** A Hub dataset as a source: which split, with which columns, as which task; `revision` pins the conversion's commit once read. */
const hubSourceSchema = z.object({
  dataset: z.string(),
  taskId: z.string(),
  subset: z.string().nullable(),
  split: z.string().nullable(),
  textColumn: z.union([z.string(), z.array(z.string())]),
  labelColumn: z.string(),
  revision: z.string().optional(),
});

/** What job.json keeps of the command line, to read the same data again on --resume. */
const inputsSchema = z.object({
  /** A data file, a dataset id of the registry, or a Hub dataset. */
  source: z.union([z.object({ file: z.string() }), z.object({ dataset: z.number() }), z.object({ hub: hubSourceSchema })]),
  target: z.string(),
  datasetFormat: z.enum(TABLE_FORMATS).optional(),
  targetEval: z.string().optional(),
  textCol: z.array(z.string()),
  labelCol: z.string(),
  sourceTextCol: z.array(z.string()),
  sourceLabelCol: z.string(),
  regression: z.boolean(),
  sourceRegression: z.boolean(),
});
type CliInputs = z.infer<typeof inputsSchema>;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `key=value` settings; numbers become numbers, the stage schema validates the rest. */
function parseAssignments(assignments: readonly string[], flag: string): StageSettingsInput {
  const settings: Record<string, string | number> = {};
  for (const assignment of assignments) {
    const match = /^([A-Za-z]+)=(.+)$/.exec(assignment);
    if (!match) throw new UserInputError(`${flag}: "${assignment}" is not key=value (e.g. ${flag} epochs=2)`, flag.replace(/^-+/, ''));
    const [, key, raw] = match;
    const number = Number(raw);
    settings[key] = raw.trim() !== '' && Number.isFinite(number) ? number : raw;
  }
  return settings as StageSettingsInput;
}

function stageSettings(flags: FinetuneFlags, own: readonly string[], flag: string): StageSettingsInput {
  const common = Object.fromEntries(
    Object.entries({ mask: flags.mask, epochs: flags.epochs, learningRate: flags.learningRate, batchSize: flags.batchSize, seed: flags.seed }).filter(
      ([, v]) => v !== undefined,
    ),
  );
  return { ...common, ...parseAssignments(flags.set, '--set'), ...parseAssignments(own, flag) } as StageSettingsInput;
}

/** A dataset file as a task named after the file; the readers' errors name the flag. */
async function readFileTask(
  path: string,
  flag: string,
  columns: { textColumns: string[]; labelColumn: string; task: TaskType; format?: TableFormat },
): Promise<TextTask> {
  let dataset: TextDataset;
  try {
    dataset = await readTextDataset(path, columns);
  } catch (error) {
    if (error instanceof UserInputError) throw new UserInputError(error.message.replace(/^dataset:/, `${flag}:`), flag.slice(2));
    throw error;
  }
  return taskFromDataset(basename(path).replace(/\.[^.]+$/, ''), dataset, columns);
}

/** A Hub source read (downloading what the cache lacks, with a progress bar), and the inputs pinned to the commit read. */
async function readHubTask(hub: z.infer<typeof hubSourceSchema>): Promise<{ task: TextTask; pinned: z.infer<typeof hubSourceSchema> }> {
  const progress = downloadProgress();
  try {
    const { task, hub: read } = await readHubSourceTask(hub, { revision: hub.revision, onDownload: progress.onProgress });
    progress.stop();
    process.stderr.write(
      `esmselect: source ${hub.dataset} (subset ${read.subset}, split ${read.split}, Parquet conversion ${read.revision.slice(0, 12)}): ${task.texts.length} examples\n`,
    );
    return { task, pinned: { ...hub, subset: read.subset, split: read.split, revision: read.revision } };
  } catch (error) {
    if (error instanceof UserInputError) throw new UserInputError(error.message.replace(/^(dataset|subset|split):/, '--source:'), 'source');
    throw error;
  } finally {
    progress.stop();
  }
}

/** The tasks the inputs name, and the inputs as job.json keeps them (a Hub source pinned to the commit read). */
async function readTasks(inputs: CliInputs): Promise<{ source: TextTask; target: TextTask; inputs: CliInputs }> {
  const format = inputs.datasetFormat;
  let source: TextTask;
  let pinned = inputs;
  if ('hub' in inputs.source) {
    const read = await readHubTask(inputs.source.hub);
    source = read.task;
    pinned = { ...inputs, source: { hub: read.pinned } };
  } else if ('dataset' in inputs.source) {
    const id = inputs.source.dataset;
    source = await withRegistry(async (registry) => readRegisteredTask(findSourceDataset(registry, id)));
  } else {
    source = await readFileTask(inputs.source.file, '--source', {
      textColumns: inputs.sourceTextCol,
      labelColumn: inputs.sourceLabelCol,
      task: inputs.sourceRegression ? 'regression' : 'classification',
      format,
    });
  }
  const targetColumns = {
    textColumns: inputs.textCol,
    labelColumn: inputs.labelCol,
    task: inputs.regression ? ('regression' as const) : ('classification' as const),
    format,
  };
  const target = await readFileTask(inputs.target, '--target', targetColumns);
  const evaluation = inputs.targetEval ? await readFileTask(inputs.targetEval, '--target-eval', targetColumns) : undefined;
  return { source, target: evaluation ? { ...target, evaluation } : target, inputs: pinned };
}

/**
 * `--source`: a data file, a registry dataset id, a Hub dataset (hf://datasets/ORG/NAME), or
 * `registry#ID`, the source task of a registered ESM: its registered dataset, else the Hub dataset a
 * published ESM's config names. For the last, the base model the ESM is for.
 */
async function sourceInput(value: string, flags: FinetuneFlags): Promise<{ source: CliInputs['source']; model?: string }> {
  if (flags.sourceSubset !== undefined || flags.sourceSplit !== undefined) {
    if (!isHubDataset(value))
      throw new UserInputError(
        `--source-${flags.sourceSubset !== undefined ? 'subset' : 'split'} goes with a Hub dataset (--source hf://datasets/ORG/NAME)`,
        'source',
      );
  }
  if (isHubDataset(value)) {
    const textColumns = flags.sourceTextCol ?? flags.textCol;
    const hub = {
      dataset: value,
      taskId: hubDatasetId(value, '--source'),
      subset: flags.sourceSubset ?? null,
      split: flags.sourceSplit ?? null,
      textColumn: textColumns.length === 1 ? textColumns[0] : textColumns,
      labelColumn: flags.sourceLabelCol ?? flags.labelCol,
    };
    return { source: { hub } };
  }
  if (value.startsWith('registry#')) {
    return withRegistry((registry) => {
      const esm = getEsm(registry, registryId(value));
      const data = locateSourceData(registry, {
        taskId: esm.task_id,
        subset: esm.task_subset,
        split: esm.task_split,
        textColumn: esm.text_column,
        labelColumn: esm.label_column,
      });
      return { source: 'registered' in data ? { dataset: data.registered.id } : { hub: data.hub }, model: esm.base_model_name };
    });
  }
  if ((await stat(value).catch(() => null))?.isFile()) return { source: { file: resolve(value) } };
  if (/^\d+$/.test(value)) return { source: { dataset: Number(value) } };
  throw new UserInputError(
    `--source: ${value} is neither a data file nor a registered dataset id (a Hub dataset is hf://datasets/ORG/NAME, a registered ESM's source registry#ID)`,
    'source',
  );
}

/** The spec of a new job from the flags. */
async function newSpec(flags: FinetuneFlags): Promise<FinetuneSpec> {
  for (const [key, flag] of [
    ['source', '--source'],
    ['target', '--target'],
  ] as const) {
    if (flags[key] === undefined) throw new UserInputError(`${flag} is required (or --resume DIR)`, key);
  }
  const chosen = await sourceInput(flags.source!, flags);
  if (chosen.model !== undefined && flags.model !== undefined && flags.model !== chosen.model) {
    throw new UserInputError(`--model: the ESM of ${flags.source} is for ${chosen.model}; fine-tune that model (leave --model out)`, 'model');
  }
  const model = flags.model ?? chosen.model;
  if (model === undefined) throw new UserInputError('--model is required (or --resume DIR)', 'model');
  const inputs: CliInputs = {
    source: chosen.source,
    target: resolve(flags.target!),
    datasetFormat: flags.datasetFormat,
    targetEval: flags.targetEval && resolve(flags.targetEval),
    textCol: flags.textCol,
    labelCol: flags.labelCol,
    sourceTextCol: flags.sourceTextCol ?? flags.textCol,
    sourceLabelCol: flags.sourceLabelCol ?? flags.labelCol,
    regression: flags.regression ?? false,
    sourceRegression: flags.sourceRegression ?? false,
  };
  const { source, target, inputs: pinned } = await readTasks(inputs);
  return {
    source,
    target,
    model,
    maxLength: flags.maxLength,
    intermediate: stageSettings(flags, flags.intermediateSet, '--intermediate-set'),
    targetStage: stageSettings(flags, flags.targetSet, '--target-set'),
    outputDir: resolve(flags.out ?? join(dataDir(), 'finetunes', newJobId())),
    inputs: pinned,
  };
}

/** The spec recorded in a job folder, with its data read again. */
async function resumedSpec(flags: FinetuneFlags): Promise<FinetuneSpec> {
  const given = (
    ['source', 'target', 'targetEval', 'datasetFormat', 'model', 'mask', 'epochs', 'learningRate', 'batchSize', 'seed', 'maxLength', 'out'] as const
  ).filter((k) => flags[k] !== undefined);
  if (given.length || flags.set.length || flags.intermediateSet.length || flags.targetSet.length) {
    throw new UserInputError(
      `--resume: the job keeps its own data and settings; drop ${given.length ? `--${given[0].replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` : 'the --…-set options'}`,
      'resume',
    );
  }
  const outputDir = resolve(flags.resume!);
  const record = await readJobRecord(outputDir);
  if (!record) throw new UserInputError(`--resume: ${outputDir} has no job.json`, 'resume');
  const inputs = inputsSchema.safeParse(record.inputs);
  if (!inputs.success)
    throw new UserInputError(`--resume: ${outputDir}/job.json was not written by the finetune command, so its data cannot be found again`, 'resume');
  const { source, target } = await readTasks(inputs.data);
  return {
    source,
    target,
    model: record.model.name,
    maxLength: record.model.maxLength,
    intermediate: record.settings.intermediate,
    targetStage: record.settings.target,
    esm: record.settings.esm,
    outputDir,
    inputs: inputs.data,
  };
}

function formatMetrics(metrics: EvaluationMetrics): string {
  return 'accuracy' in metrics
    ? `accuracy ${metrics.accuracy.toFixed(4)}, macro-F1 ${metrics.macroF1.toFixed(4)}`
    : `Pearson ${metrics.pearson.toFixed(4)}, Spearman ${metrics.spearman.toFixed(4)}, MSE ${metrics.mse.toPrecision(4)}`;
}

function formatStage(report: StageReport): string {
  const early = report.stoppedEarly ? ', stopped early' : '';
  return [
    `${report.stage} (${report.task}, ${report.trainExamples} train / ${report.evaluationExamples} held out, mask ${report.mask}):`,
    `  before: ${formatMetrics(report.initialMetrics)}`,
    `  best epoch ${report.bestEpoch} of ${report.epochs.length}${early}: ${formatMetrics(report.metrics)}`,
  ].join('\n');
}

function formatResult(result: FinetuneResult): string {
  const r2 = result.esm.heldOutR2 === null ? 'no held-out R²' : `held-out R² ${result.esm.heldOutR2.toFixed(4)}`;
  return [
    formatStage(result.intermediate),
    `ESM of the intermediate fine-tune: ${result.esm.folder} (${result.esm.pairs} pairs, ${r2})`,
    formatStage(result.target),
    `checkpoints: ${result.checkpoints.intermediate}, ${result.checkpoints.target}`,
  ].join('\n');
}

/** Every fine-tune grows the pool: its ESM goes into the registry, as `esm train` registers one. */
const registerInPool: FinetuneRunOptions['registerEsm'] = (esm, training) =>
  withRegistry(async (registry) => {
    const outcome = await registerEsm(registry, esm, { origin: 'finetuned', training });
    process.stderr.write(`esmselect: ESM ${outcome.status === 'imported' ? 'registered' : 'already registered'} as #${outcome.record.id} (${esm.taskId})\n`);
  });

/**
 * One progress bar per epoch: stage and epoch in the label, steps counted, loss and the stage's ETA
 * beside. `started` is said once the job has passed its checks and its folder exists.
 */
function progressPrinter(started: string): { onEvent: (event: FinetuneEvent) => void; stop: () => void } {
  let announced = false;
  let bar: ProgressReporter | null = null;
  let barKey = '';
  const stop = () => {
    bar?.stop();
    bar = null;
  };
  const say = (line: string) => {
    stop();
    process.stderr.write(`esmselect: ${line}\n`);
  };
  return {
    stop,
    onEvent(event) {
      if (!announced) say(started);
      announced = true;
      switch (event.type) {
        case 'stage':
          // The ESM's own event reports its completion.
          if (event.status === 'restored') say(`${event.stage}: done before, restored from the job folder`);
          else if (event.status === 'completed' && event.stage !== 'esm') say(`${event.stage}: done`);
          return;
        case 'step': {
          const key = `${event.stage} epoch ${event.epoch}/${event.epochs}`;
          if (key !== barKey) {
            stop();
            bar = createProgress(key, 'steps');
            barKey = key;
          }
          const perEpoch = event.totalSteps / event.epochs;
          bar!.update(event.step - (event.epoch - 1) * perEpoch, perEpoch, `loss ${event.loss.toFixed(4)}, stage ETA ${Math.ceil(event.etaSeconds)} s`);
          return;
        }
        case 'epoch':
          say(
            `${event.stage} epoch ${event.epoch}/${event.epochs}: train loss ${event.trainLoss.toFixed(4)}, held out ${formatMetrics(event.metrics)} (${event.seconds.toFixed(1)} s)`,
          );
          return;
        case 'esm':
          say(`ESM saved to ${event.folder}${event.heldOutR2 === null ? '' : ` (held-out R² ${event.heldOutR2.toFixed(4)})`}`);
          return;
      }
    },
  };
}

export function finetuneCommand(): Command {
  return new Command('finetune')
    .description('fine-tune the base model on a source task, then on the target task (optionally with Gradient-Mask Tuning or DPS)')
    .option(
      '--source <file|id>',
      'source (intermediate) task: a .csv, .tsv, .jsonl or .parquet file, a registered dataset id, a Hub dataset hf://datasets/ORG/NAME, or registry#ID (the source task of registered ESM #ID: its registered dataset, else the Hub dataset its config names)',
    )
    .option('--source-subset <name>', 'with a Hub dataset source: its subset (config)')
    .option('--source-split <name>', 'with a Hub dataset source: its split (default "train")')
    .option('--target <file>', 'target task: a .csv, .tsv, .jsonl or .parquet file')
    .option('--target-eval <file>', 'held-out target examples (default: hold out a fraction of --target)')
    .option('--model <name>', 'base model: a BERT or DistilBERT folder under the models directory (ESMSELECT_MODELS_DIR, default models/)')
    .option('--text-col <column...>', 'text column(s) of the target; several are joined with " [SEP] "', ['text'])
    .option('--label-col <column>', 'label column of the target', 'label')
    .option('--source-text-col <column...>', 'text column(s) of the source (default: --text-col)')
    .option('--source-label-col <column>', 'label column of the source (default: --label-col)')
    .addOption(new Option('--dataset-format <format>', 'format of the data files (default: from each extension)').choices(TABLE_FORMATS))
    .option('--regression', 'the target labels are regression targets')
    .option('--source-regression', 'the source labels are regression targets')
    .addOption(
      new Option('--mask <strategy>', 'sparse fine-tuning in both stages: gmt (Gradient-Mask Tuning), dps (Dynamic Parameter Selection) or none').choices(
        MASK_NAMES,
      ),
    )
    .option('--epochs <n>', 'epochs per stage (default 3)', positiveInteger)
    .option('--learning-rate <rate>', 'peak learning rate (default 2e-5)', positiveNumber)
    .option('--batch-size <n>', 'examples per micro-batch (default 32)', positiveInteger)
    .option('--seed <n>', 'seed of the split, the order, dropout and the new head (default 0)', nonNegativeInteger)
    .option('--set <key=value>', 'a setting for both stages, e.g. keepFraction=0.5, maskedEntries=strict, patience=1 (repeatable)', collect, [])
    .option('--intermediate-set <key=value>', 'a setting for the intermediate stage only (repeatable)', collect, [])
    .option('--target-set <key=value>', 'a setting for the target stage only (repeatable)', collect, [])
    .option('--max-length <n>', 'truncate texts to n tokens (default 128, as hfselect)', positiveInteger)
    .option('--out <dir>', 'job folder: job.json, checkpoints, the ESM (default: <data dir>/finetunes/<id>)')
    .option('--resume <dir>', 'continue the job in this folder after its last completed stage')
    .option('--no-register', 'keep the ESM of the intermediate fine-tune in the job folder only, out of the registry')
    .addOption(new Option('--format <format>', 'summary format').choices(['table', 'json']).default('table'))
    .action(async (flags: FinetuneFlags) => {
      const spec = flags.resume ? await resumedSpec(flags) : await newSpec(flags);
      const controller = new AbortController();
      const interrupt = () => controller.abort();
      process.once('SIGINT', interrupt);
      const progress = progressPrinter(`job folder ${spec.outputDir} (if interrupted: esmselect finetune --resume ${spec.outputDir})`);
      try {
        const result = await runFinetune(spec, {
          onEvent: progress.onEvent,
          signal: controller.signal,
          registerEsm: flags.register ? registerInPool : undefined,
        });
        progress.stop();
        process.stdout.write(`${flags.format === 'json' ? JSON.stringify(result, null, 2) : formatResult(result)}\n`);
      } catch (error) {
        if (!controller.signal.aborted) throw error;
        progress.stop();
        process.stderr.write(`esmselect: interrupted; resume with: esmselect finetune --resume ${spec.outputDir}\n`);
        process.exitCode = 130;
      } finally {
        progress.stop();
        process.off('SIGINT', interrupt);
      }
    });
}
