import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { dataDir, modelsDir } from '../config.js';
import { DEFAULT_MAX_LENGTH } from '../embed/embedder.js';
import { describeModel, modelFolder } from '../embed/model-folder.js';
import type { Pooling } from '../embed/pooling.js';
import { UserInputError } from '../errors.js';
import type { EmbeddingSpaceMap } from '../esm/esm.js';
import { saveHfselectEsm } from '../esm/hfselect.js';
import { type EsmTrainingReport, type EsmTrainingSettings, trainEsm } from '../esm/train.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadTensorflow } from '../tf/backend.js';
import { type ModelFolder, readModelFolder, saveCheckpoint } from './checkpoint.js';
import { prepareTask, type TextTask, taskFingerprint } from './data.js';
import { resolveStageSettings, type StageSettings, type StageSettingsInput } from './settings.js';
import { loadTokenizer, type TextTokenizer } from './tokenize.js';
import { type EpochResult, embedWithEncoder, type StageName, type StageReport, type StepProgress, trainClassifier } from './trainer.js';

/** What a two-stage fine-tuning job needs; everything but the data is recorded in its job.json. */
export interface FinetuneSpec {
  /**
   * The base model, as the embedder names it (the ESM's `base_model_name`): a BERT or DistilBERT
   * folder under the models directory with config.json, model.safetensors and the tokenizer.
   */
  readonly model: string;
  /** Default `modelsDir()` (ESMSELECT_MODELS_DIR, else models/). */
  readonly modelsDir?: string;
  readonly maxLength?: number;
  /** The intermediate task, ranked by ESM-LogME. */
  readonly source: TextTask;
  readonly target: TextTask;
  readonly intermediate?: StageSettingsInput;
  readonly targetStage?: StageSettingsInput;
  /** Settings of the ESM trained after the intermediate stage (hfselect's defaults otherwise). */
  readonly esm?: Partial<EsmTrainingSettings>;
  /** Where job.json, the checkpoints and the ESM go; default `<data dir>/finetunes/<id>`. */
  readonly outputDir?: string;
  /** Whatever the caller needs to find the data again on resume (the CLI keeps its arguments here). */
  readonly inputs?: unknown;
}

export interface FinetuneRunOptions {
  readonly onEvent?: (event: FinetuneEvent) => void;
  readonly signal?: AbortSignal;
  /**
   * Adds the ESM trained after the intermediate stage to the pool, once it is saved as an hfselect
   * folder: where the registry plugs in (the CLI passes `registerEsm` of src/store/esms.ts).
   * Without it the ESM stays in the job's folder.
   */
  readonly registerEsm?: (esm: EmbeddingSpaceMap, training: EsmTrainingReport) => Promise<void>;
}

export type JobStep = StageName | 'esm';

export type FinetuneEvent =
  | { readonly type: 'stage'; readonly stage: JobStep; readonly status: 'started' | 'completed' | 'restored' }
  | ({ readonly type: 'step' } & StepProgress)
  | ({ readonly type: 'epoch'; readonly stage: StageName; readonly epochs: number } & EpochResult)
  | { readonly type: 'esm'; readonly folder: string; readonly heldOutR2: number | null };

export interface EsmSummary {
  readonly folder: string;
  readonly taskId: string;
  readonly pairs: number;
  readonly heldOutR2: number | null;
  readonly epochLosses: readonly number[];
}

export interface FinetuneResult {
  readonly id: string;
  readonly outputDir: string;
  readonly backend: string;
  readonly intermediate: StageReport;
  readonly esm: EsmSummary;
  readonly target: StageReport;
  /** HF folders (…ForSequenceClassification) after each stage. */
  readonly checkpoints: { readonly intermediate: string; readonly target: string };
  /** The steps this run found done in job.json and did not repeat. */
  readonly restored: readonly JobStep[];
}

/** The job statuses of the registry's jobs table (a fine-tune run is never queued: it starts when called). */
export type JobStatus = 'running' | 'succeeded' | 'failed' | 'cancelled';

/** job.json: the job's definition and how far it got; a resumed run continues after the last completed step. */
export interface JobRecord {
  readonly version: 1;
  readonly id: string;
  readonly model: { readonly name: string; readonly folder: string; readonly pooling: Pooling; readonly maxLength: number };
  readonly source: { readonly id: string; readonly fingerprint: string; readonly examples: number };
  readonly target: { readonly id: string; readonly fingerprint: string; readonly examples: number };
  readonly settings: { readonly intermediate: StageSettings; readonly target: StageSettings; readonly esm: Partial<EsmTrainingSettings> };
  readonly inputs?: unknown;
  status: JobStatus;
  error?: string;
  readonly completed: { intermediate?: StageReport; esm?: EsmSummary; target?: StageReport };
}

export const JOB_FILE = 'job.json';
const FOLDERS = { intermediate: 'intermediate', esm: 'esm', target: 'target' } as const;

export function newJobId(): string {
  return `ft-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${randomBytes(3).toString('hex')}`;
}

export async function readJobRecord(outputDir: string): Promise<JobRecord | null> {
  let text: string;
  try {
    text = await readFile(join(outputDir, JOB_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    const record = JSON.parse(text) as Omit<JobRecord, 'status'> & { status: JobStatus | 'completed' };
    if (record.version !== 1) throw new Error(`version ${String(record.version)}`);
    // Before one status vocabulary, a finished job said `completed`.
    return { ...record, status: record.status === 'completed' ? 'succeeded' : record.status };
  } catch (error) {
    throw new UserInputError(`resume: ${join(outputDir, JOB_FILE)} is not a job record (${(error as Error).message})`, 'resume');
  }
}

async function writeJobRecord(outputDir: string, record: JobRecord): Promise<void> {
  await writeFileAtomic(join(outputDir, JOB_FILE), `${JSON.stringify(record, null, 2)}\n`);
}

/** The job.json this spec describes: a new one, or the existing one when the folder holds the same job. */
async function openRecord(spec: FinetuneSpec, outputDir: string, fresh: Omit<JobRecord, 'id' | 'status' | 'completed'>): Promise<JobRecord> {
  const existing = await readJobRecord(outputDir);
  if (!existing) return { ...fresh, id: basename(outputDir), status: 'running', completed: {} };
  for (const key of ['model', 'source', 'target', 'settings'] as const) {
    if (!isDeepStrictEqual(existing[key], fresh[key])) {
      throw new UserInputError(
        `resume: ${outputDir} holds a job with other ${key === 'settings' ? 'settings' : key === 'model' ? 'model settings' : `${key} data`}; use another output folder`,
        'resume',
      );
    }
  }
  return { ...existing, status: 'running', error: undefined, inputs: spec.inputs ?? existing.inputs };
}

function esmMetadata(spec: FinetuneSpec, record: JobRecord, report: StageReport) {
  const { source } = spec;
  const settings = report.settings;
  return {
    base_model_name: record.model.name,
    // The embedder's pooling, which the registry records, so the ESM is used with matching embeddings.
    pooling: record.model.pooling,
    task_id: source.id,
    task_subset: source.subset ?? null,
    text_column: source.textColumn ? (typeof source.textColumn === 'string' ? source.textColumn : [...source.textColumn]) : null,
    label_column: source.labelColumn ?? null,
    task_split: source.split ?? null,
    num_examples: source.texts.length,
    seed: settings.seed,
    lm_num_epochs: report.epochs.length,
    lm_batch_size: settings.batchSize * settings.accumulationSteps,
    lm_learning_rate: settings.learningRate,
    lm_weight_decay: settings.weightDecay,
    lm_optimizer: 'AdamW',
    // Not an hfselect field (kept as an unknown field): ESMs of masked fine-tunes are told apart.
    lm_gradient_mask: report.mask,
  };
}

/**
 * Runs (or resumes) a two-stage fine-tune: the base model on the source task (intermediate stage),
 * then the ESM of that fine-tune (pooled embeddings of the source texts from the base and the tuned
 * model, fitted by hfselect's recipe, saved as an hfselect folder and handed to `registerEsm`), then
 * the tuned encoder with a fresh head on the target task. Each step's result is checkpointed and
 * recorded in job.json before the next starts, so a run that dies (killed, crashed, cancelled) is
 * resumed by running the same spec into the same `outputDir`: completed steps are restored, the
 * interrupted one starts again from the previous checkpoint.
 */
export async function runFinetune(spec: FinetuneSpec, options: FinetuneRunOptions = {}): Promise<FinetuneResult> {
  const emit = (event: FinetuneEvent) => options.onEvent?.(event);
  const { signal } = options;
  const intermediateSettings = resolveStageSettings(spec.intermediate, 'intermediate');
  const targetSettings = resolveStageSettings(spec.targetStage, 'target');
  const maxLength = spec.maxLength ?? DEFAULT_MAX_LENGTH;
  const folder = modelFolder(spec.model, spec.modelsDir ?? modelsDir());
  const base = await readModelFolder(folder);
  // hfselect's pooling rule, exactly as the embedder applies it to this folder.
  const { pooling } = await describeModel(spec.model, folder, maxLength);
  const outputDir = resolve(spec.outputDir ?? join(dataDir(), 'finetunes', newJobId()));
  const record = await openRecord(spec, outputDir, {
    version: 1,
    model: { name: spec.model, folder, pooling, maxLength },
    source: { id: spec.source.id, fingerprint: taskFingerprint(spec.source), examples: spec.source.texts.length },
    target: { id: spec.target.id, fingerprint: taskFingerprint(spec.target), examples: spec.target.texts.length },
    settings: { intermediate: intermediateSettings, target: targetSettings, esm: spec.esm ?? {} },
    inputs: spec.inputs,
  });
  await mkdir(outputDir, { recursive: true });
  await writeJobRecord(outputDir, record);
  const { description } = await loadTensorflow();
  const tokenizer = await loadTokenizer(folder, maxLength);
  const checkpoints = { intermediate: join(outputDir, FOLDERS.intermediate), target: join(outputDir, FOLDERS.target) };
  const restored: JobStep[] = [];
  const { completed } = record;

  const runStage = async (stage: StageName, start: ModelFolder, task: TextTask, settings: StageSettings): Promise<StageReport> => {
    const data = prepareTask(task, tokenizer, {
      heldOutFraction: settings.heldOutFraction,
      seed: settings.seed,
      field: stage === 'intermediate' ? 'source' : 'target',
    });
    emit({ type: 'stage', stage, status: 'started' });
    const { model, report } = await trainClassifier(start, data, settings, {
      stage,
      pooling,
      signal,
      onStep: (progress) => emit({ type: 'step', ...progress }),
      onEpoch: (result) => emit({ type: 'epoch', ...result }),
    });
    try {
      await saveCheckpoint(model, base, { task: data.task, classes: data.classes }, checkpoints[stage]);
      completed[stage] = report;
      await writeJobRecord(outputDir, record);
      emit({ type: 'stage', stage, status: 'completed' });
      return report;
    } finally {
      model.dispose();
    }
  };

  try {
    if (completed.intermediate) {
      restored.push('intermediate');
      emit({ type: 'stage', stage: 'intermediate', status: 'restored' });
    } else await runStage('intermediate', base, spec.source, intermediateSettings);

    if (completed.esm) {
      restored.push('esm');
      emit({ type: 'stage', stage: 'esm', status: 'restored' });
    } else {
      emit({ type: 'stage', stage: 'esm', status: 'started' });
      completed.esm = await fitIntermediateEsm(
        spec,
        record,
        base,
        await readModelFolder(checkpoints.intermediate),
        tokenizer,
        join(outputDir, FOLDERS.esm),
        options,
      );
      await writeJobRecord(outputDir, record);
      emit({ type: 'esm', folder: completed.esm.folder, heldOutR2: completed.esm.heldOutR2 });
      emit({ type: 'stage', stage: 'esm', status: 'completed' });
    }

    if (completed.target) {
      restored.push('target');
      emit({ type: 'stage', stage: 'target', status: 'restored' });
    } else await runStage('target', await readModelFolder(checkpoints.intermediate), spec.target, targetSettings);

    record.status = 'succeeded';
    await writeJobRecord(outputDir, record);
    return {
      id: record.id,
      outputDir,
      backend: description,
      intermediate: completed.intermediate!,
      esm: completed.esm,
      target: completed.target!,
      checkpoints,
      restored,
    };
  } catch (error) {
    record.status = signal?.aborted ? 'cancelled' : 'failed';
    record.error = error instanceof Error ? error.message : String(error);
    await writeJobRecord(outputDir, record);
    throw error;
  }
}

/**
 * Closes the loop: the ESM of the intermediate fine-tune, fitted to pairs of pooled embeddings of
 * the source texts by the base and the tuned encoder (hfselect's `train_with_models`), saved as an
 * hfselect folder, then registered.
 */
async function fitIntermediateEsm(
  spec: FinetuneSpec,
  record: JobRecord,
  base: ModelFolder,
  tuned: ModelFolder,
  tokenizer: TextTokenizer,
  folder: string,
  options: FinetuneRunOptions,
): Promise<EsmSummary> {
  const sequences = tokenizer.tokenize(spec.source.texts);
  const batchSize = record.settings.intermediate.batchSize * 2;
  const embed = (from: ModelFolder) => embedWithEncoder(from, record.model.pooling, sequences, batchSize);
  const report = record.completed.intermediate!;
  const { esm, report: esmReport } = await trainEsm(embed(base), embed(tuned), esmMetadata(spec, record, report), {
    ...record.settings.esm,
    signal: options.signal,
  });
  await saveHfselectEsm(esm, folder);
  await options.registerEsm?.(esm, esmReport);
  return { folder, taskId: esm.taskId, pairs: sequences.length, heldOutR2: esmReport.heldOutR2, epochLosses: esmReport.epochLosses };
}
