import { z } from 'zod';
import { POOLINGS } from '../../embed/pooling.js';
import type { EsmFilter as EsmFilterFields } from '../../esm/filter.js';
import { stageSettingsSchema } from '../../finetune/settings.js';
import { STAGES } from '../../finetune/trainer.js';
import { TABLE_FORMATS } from '../../io/tables.js';
import { JOB_STATES } from '../../store/jobs.js';
import { problemSchema } from './problem.js';

/**
 * The request and response schemas of the HTTP service: the handlers validate with them and
 * openapi.yaml is generated from them (src/server/http/openapi.ts), so the two cannot drift. Schemas
 * given an id here become named components of the document (zod keeps ids and descriptions in
 * its global registry).
 */
function named<T extends z.ZodType>(id: string, schema: T): T {
  return schema.meta({ id });
}

export const Problem = named('Problem', problemSchema);

// ---- rankings ------------------------------------------------------------------------------

const label = z
  .union([z.string(), z.number(), z.boolean(), z.array(z.number())])
  .describe('a class label (string, number or boolean, one kind throughout), or for regression a number or an array of K numbers');

/** The registry filters of `esmselect esm list`, named after hfselect's ESMConfig fields: the library's EsmFilter (src/esm/filter.ts). */
export const EsmFilter = named(
  'EsmFilter',
  z.strictObject({
    base_model_name: z.string().min(1).optional().describe('only ESMs of this base model'),
    language: z.string().min(1).optional().describe('only source tasks in this language (case-insensitive)'),
    task_id: z.string().min(1).optional().describe('only source tasks whose id contains this text (case-insensitive)'),
    esm_architecture: z.string().min(1).optional().describe('only ESMs of this architecture (linear)'),
    esm_embedding_dim: z.coerce.number<string | number>().int().positive().optional().describe('only ESMs of this embedding dimension'),
  }) satisfies z.ZodType<EsmFilterFields, unknown>,
);

/**
 * Text columns of an upload: the field once, or repeated (a form's repeated field arrives as an
 * array, a single one as a string). Bounded, so that a form repeating it 200,000 times is refused
 * (422) rather than read with 200,000 columns.
 */
export const MAX_TEXT_COLUMNS = 32;
const textColumns = z.preprocess((value) => (typeof value === 'string' ? [value] : value), z.array(z.string().min(1)).min(1).max(MAX_TEXT_COLUMNS));

const modelName = z.string().min(1).describe('a base model: a folder under the models directory, as GET /v1/models lists them');
const positiveInt = z.coerce.number<string | number>().int().positive();
/**
 * A registry id as a path or form field carries it: decimal digits, no sign, no leading zero
 * (coercing with Number() would also take "0x1", "1e0" and " 1" as ESM #1).
 */
const registryId = z
  .string()
  .regex(/^[1-9][0-9]*$/, 'expected a registry id: a positive decimal integer')
  .transform(Number)
  .pipe(z.int().max(Number.MAX_SAFE_INTEGER));

const rankingOptions = {
  task_type: z.enum(['classification', 'regression']).optional().describe('default classification'),
  top: positiveInt.optional().describe('return only the best `top` source tasks (all when unset)'),
  candidates: positiveInt
    .optional()
    .describe(
      'two-stage ranking: score with ESM-LogME only this many sources the first stage (TextEmb through the HNSW index) finds nearest the target, plus every source without texts; at least `top`; default 100',
    ),
};

function sameLength<R extends 'texts' | 'embeddings'>(rows: R) {
  return (value: { labels: unknown[] } & Record<R, unknown[]>, context: z.RefinementCtx) => {
    if (value.labels.length !== value[rows].length) {
      context.addIssue({
        code: 'custom',
        path: ['labels'],
        message: `${value.labels.length} labels for ${value[rows].length} ${rows}; give one label per row`,
      });
    }
  };
}

export const TextsTarget = named(
  'TextsTarget',
  z
    .strictObject({
      texts: z
        .array(z.string().refine((text) => text.trim() !== '', 'the text is empty'))
        .min(2)
        .describe('the target dataset, one text per example'),
      labels: z.array(label),
      model: modelName,
      pooling: z.enum(POOLINGS).optional().describe("overrides hfselect's pooling rule for the model (use what the ESMs were trained with)"),
      filters: EsmFilter.optional(),
      ...rankingOptions,
    })
    .superRefine(sameLength('texts')),
);

export const EmbeddingsTarget = named(
  'EmbeddingsTarget',
  z
    .strictObject({
      embeddings: z
        .array(z.array(z.number()).min(1))
        .min(2)
        .describe('precomputed target embeddings, one row of finite numbers per example, all of one length'),
      labels: z.array(label),
      filters: EsmFilter.optional(),
      ...rankingOptions,
    })
    .superRefine((value, context) => {
      const width = value.embeddings[0].length;
      const bad = value.embeddings.findIndex((row) => row.length !== width);
      if (bad >= 0) context.addIssue({ code: 'custom', path: ['embeddings', bad], message: `has ${value.embeddings[bad].length} values, row 0 has ${width}` });
    })
    .superRefine(sameLength('embeddings')),
);

export const HubDatasetTarget = named(
  'HubDatasetTarget',
  z.strictObject({
    dataset: z
      .string()
      .regex(/^hf:\/\//, 'a Hub dataset: hf://datasets/ORG/NAME')
      .describe(
        "a dataset of the Hugging Face Hub, hf://datasets/ORG/NAME, read from the Hub's Parquet conversion (refs/convert/parquet) and cached under the data dir",
      ),
    subset: z.string().min(1).optional().describe('its subset (the Hub\'s "config"); default the only one, else "default"'),
    split: z.string().min(1).optional().describe('default "train"'),
    text_column: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).describe('text column, or several joined with " [SEP] " as hfselect does'),
    label_column: z.string().min(1),
    model: modelName,
    pooling: z.enum(POOLINGS).optional(),
    num_examples: positiveInt.optional().describe('embed a uniform random sample of this many rows'),
    seed: z.coerce.number<string | number>().int().nonnegative().optional().describe('seed for num_examples (default 0)'),
    filters: EsmFilter.optional(),
    ...rankingOptions,
  }),
);

export const RankingRequest = named(
  'RankingRequest',
  z.union([TextsTarget, EmbeddingsTarget, HubDatasetTarget]).describe('the target: texts to embed, embeddings, or a Hub dataset to read and embed'),
);

export const RankingUpload = named(
  'RankingUpload',
  z.strictObject({
    file: z.file().describe('the target dataset: CSV, TSV, JSON Lines or Parquet'),
    format: z.enum(TABLE_FORMATS).optional().describe("the file's format (default: from its name's extension)"),
    text_column: textColumns.describe(`text column; repeat the field for several (at most ${MAX_TEXT_COLUMNS}), joined with " [SEP] " as hfselect does`),
    label_column: z.string().min(1),
    model: modelName,
    pooling: z.enum(POOLINGS).optional(),
    num_examples: positiveInt.optional().describe('embed a uniform random sample of this many rows'),
    seed: z.coerce.number<string | number>().int().nonnegative().optional().describe('seed for num_examples (default 0)'),
    ...rankingOptions,
    ...EsmFilter.shape,
  }),
);

export const RankingsQuery = z.strictObject({
  async: z
    .enum(['true', 'false'])
    .optional()
    .describe('true: always answer 202 with a job, however small the request (as does the header Prefer: respond-async)'),
});

export const JobId = z.strictObject({ id: z.string().min(1).max(100).describe('the job id POST /v1/rankings returned') });

export const RankedTask = named(
  'RankedTask',
  z.object({
    rank: z.int(),
    task_id: z.string(),
    task_subset: z.string().nullable(),
    text_column: z.union([z.string(), z.array(z.string())]).nullable(),
    label_column: z.string().nullable(),
    task_split: z.string().nullable(),
    num_examples: z.number().nullable(),
    language: z.string().nullable(),
    base_model_name: z.string(),
    esm_architecture: z.string(),
    score: z.number().describe('ESM-LogME: higher ranks first'),
    source: z.string().describe('registry#<id>: the ESM in GET /v1/esms/{id}'),
    similarity: z.number().nullable().optional().describe('its first-stage similarity; null when it had none (no texts) and was scored anyway'),
    finetune: z
      .object({ ranking_id: z.string(), rank: z.int() })
      .describe(
        '"fine-tune with this source": send these two fields to POST /v1/finetunes, with the target file (the source task needs a registered dataset file, or, for a published ESM, the Hub dataset its config names)',
      ),
  }),
);

const FirstStageCounts = z.object({
  stage: z.enum(['textemb', 'esm-means']),
  considered: z.int().describe('sources in the filtered pool'),
  indexed: z.int().describe('sources the first stage could judge'),
  unindexed: z.int().describe('sources without texts: all passed to the second stage'),
  selected: z.int().describe('indexed sources passed to the second stage (at most `candidates`)'),
  seconds: z.number(),
  notes: z.array(z.string()).describe('e.g. an index found corrupt and rebuilt'),
});

export const RankingResult = named(
  'RankingResult',
  z.object({
    run_id: z.int().describe('the ranking run recorded in the registry'),
    ranking: z.array(RankedTask),
    rejected: z.array(z.object({ source: z.string(), problem: z.string() })).describe('ESMs of the pool that could not be used, and why'),
    target: z.object({
      n: z.int(),
      d: z.int(),
      task: z.enum(['classification', 'regression']),
      classes: z.array(z.union([z.string(), z.number(), z.boolean()])).optional(),
    }),
    considered: z.int(),
    scored: z.int(),
    scorer: z.string(),
    seconds: z.number(),
    stages: z
      .object({
        candidates: z.union([z.int(), z.literal('all')]),
        first: FirstStageCounts.nullable().describe('null when every source was scored'),
        second: z.object({ considered: z.int().describe('sources scored with ESM-LogME'), seconds: z.number() }),
      })
      .optional()
      .describe('how many sources each stage of the ranking considered'),
  }),
);

export const JOB_STAGES = ['queued', 'reading', 'embedding', 'scoring', 'recording', 'done'] as const;

export const JobProgress = named(
  'JobProgress',
  z.object({
    fraction: z.number().min(0).max(1),
    stage: z.enum(JOB_STAGES),
    eta_seconds: z.number().nullable().describe('estimated seconds left, from the time taken so far; null until there is enough to go on'),
  }),
);

/** What every job shows, whatever its kind (src/jobs/runner.ts JobView). */
const jobFields = {
  id: z.string(),
  status: z.enum(JOB_STATES),
  restarts: z.int().describe('how often a stopped server left it running and it was started again'),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  error: Problem.optional().describe('when failed'),
  links: z.object({ self: z.string(), events: z.string() }),
};

export const RankingJob = named(
  'RankingJob',
  z.object({
    ...jobFields,
    progress: JobProgress,
    result: RankingResult.optional().describe('when succeeded'),
  }),
);

// ---- fine-tunes ----------------------------------------------------------------------------

const taskType = z.enum(['classification', 'regression']);

/** A multipart field holding JSON, as OpenAPI sends an object-valued field of a multipart body. */
function jsonField<T extends z.ZodType>(schema: T) {
  return z.preprocess((value, context) => {
    if (typeof value !== 'string') return value;
    try {
      return JSON.parse(value) as unknown;
    } catch {
      context.addIssue({ code: 'custom', message: 'is not valid JSON' });
      return z.NEVER;
    }
  }, schema);
}

export const StageSettings = named(
  'StageSettings',
  stageSettingsSchema.describe(
    "A fine-tuning stage's hyper-parameters (the runner's own schema, as `esmselect finetune --intermediate-set key=value` takes them); unset ones take the defaults shown. mask: none, gmt (Gradient-Mask Tuning) or dps (Dynamic Parameter Selection).",
  ),
);

/** The longest task id a request gives or a file name lends (the registry and the ESM's config carry it). */
export const TASK_ID_MAX_LENGTH = 200;

const SOURCE_UPLOAD_FIELDS = ['source_format', 'source_text_column', 'source_label_column', 'source_task_type', 'source_task_id'] as const;

export const FinetuneUpload = named(
  'FinetuneUpload',
  z
    .strictObject({
      target_file: z.file().describe('the target dataset: CSV, TSV, JSON Lines or Parquet'),
      format: z.enum(TABLE_FORMATS).optional().describe("target_file's format (default: from its name's extension)"),
      text_column: textColumns.describe(
        `text column of the target, and of an uploaded source unless source_text_column is given; repeat the field for several (at most ${MAX_TEXT_COLUMNS}), joined with " [SEP] "`,
      ),
      label_column: z.string().min(1).describe('label column of the target, and of an uploaded source unless source_label_column is given'),
      task_type: taskType.optional().describe('the target task (default classification)'),
      source_file: z.file().optional().describe('the source (intermediate) task as a dataset file; give this, esm_id, or ranking_id with rank'),
      source_format: z.enum(TABLE_FORMATS).optional(),
      source_text_column: textColumns.optional(),
      source_label_column: z.string().min(1).optional(),
      source_task_type: taskType.optional().describe('default classification'),
      source_task_id: z
        .string()
        .min(1)
        .max(TASK_ID_MAX_LENGTH)
        .optional()
        .describe(
          `an uploaded source's task id, which the ESM of the fine-tune carries (default: the file's name without its extension, cut to ${TASK_ID_MAX_LENGTH} characters)`,
        ),
      esm_id: registryId
        .optional()
        .describe(
          'a registered source task: an ESM id of GET /v1/esms whose dataset is registered as a file in the data dir, or whose config names a Hub dataset (task_id, text_column, label_column)',
        ),
      source_id: registryId.optional().meta({ deprecated: true, description: 'the old name of esm_id, accepted until the next release' }),
      ranking_id: z.string().min(1).max(100).optional().describe('a succeeded ranking job: fine-tune on its source task at `rank`'),
      rank: positiveInt.optional().describe('with ranking_id: the rank of the source task (1 is the best)'),
      model: modelName
        .optional()
        .describe(
          'the base model to fine-tune (BERT or DistilBERT with model.safetensors); a registered or ranked source needs the one its ESM is for, the default; required with source_file',
        ),
      intermediate_settings: jsonField(StageSettings).optional().describe('the intermediate stage: StageSettings as JSON, e.g. {"mask": "gmt", "epochs": 2}'),
      target_settings: jsonField(StageSettings).optional().describe('the target stage: StageSettings as JSON'),
    })
    .superRefine((form, context) => {
      const issue = (field: string, message: string) => context.addIssue({ code: 'custom', path: [field], message });
      if (form.ranking_id !== undefined && form.rank === undefined) issue('rank', 'goes with ranking_id: the rank of the source task in that ranking');
      if (form.rank !== undefined && form.ranking_id === undefined) issue('ranking_id', 'goes with rank: the ranking job the rank is of');
      const sources = (['source_file', 'esm_id', 'source_id', 'ranking_id'] as const).filter((field) => form[field] !== undefined);
      if (sources.length === 0)
        issue(
          'source_file',
          "give the source task: source_file (a dataset file), esm_id (a registered source task's ESM) or ranking_id with rank (a ranked one)",
        );
      if (sources.length > 1) issue(sources[1], `give one source task, not both ${sources[0]} and ${sources[1]}`);
      for (const field of SOURCE_UPLOAD_FIELDS)
        if (form.source_file === undefined && form[field] !== undefined)
          issue(field, 'describes an uploaded source_file; a registered source task has its own');
    }),
);

export const FinetuneProgress = named(
  'FinetuneProgress',
  z.object({
    fraction: z.number().min(0).max(1).describe("over the whole job, weighing each stage's epochs by its examples"),
    stage: z
      .enum(['queued', 'preparing', 'intermediate', 'esm', 'target', 'done'])
      .describe('preparing: the fine-tune process starts and reads the data; esm: the ESM of the intermediate fine-tune is trained and registered'),
    eta_seconds: z.number().nullable().describe('estimated seconds left in the job, from its pace so far; null until there is enough to go on'),
    epoch: z.int().optional().describe('while a stage trains: its epoch (from 1) ...'),
    epochs: z.int().optional().describe('... of this many'),
    step: z.int().optional().describe("the stage's optimiser steps so far ..."),
    total_steps: z.int().optional().describe('... of this many (early stopping may end it sooner)'),
    loss: z.number().optional().describe('mean training loss of the last step'),
  }),
);

const metrics = z
  .record(z.string(), z.number().nullable())
  .describe(
    'on the held-out split: accuracy and macroF1 (classification), or pearson, spearman and mse (regression), as scikit-learn and SciPy define them; null where undefined',
  );

export const FinetuneEpoch = named(
  'FinetuneEpoch',
  z.object({ stage: z.enum(STAGES), epoch: z.int(), epochs: z.int(), train_loss: z.number(), metrics, seconds: z.number() }),
);

export const FinetuneStageReport = named(
  'FinetuneStageReport',
  z.object({
    task: z.string(),
    mask: z.string().describe('the masking strategy as it ran'),
    settings: StageSettings,
    train_examples: z.int(),
    evaluation_examples: z.int(),
    initial_metrics: metrics.describe('before training: the fresh head on the starting weights'),
    epochs: z.array(FinetuneEpoch),
    best_epoch: z.int().describe('the epoch whose weights the stage ends with (and its checkpoint holds)'),
    metrics,
    stopped_early: z.boolean(),
    steps: z.int(),
    seconds: z.number(),
  }),
);

export const FinetuneResult = named(
  'FinetuneResult',
  z.object({
    intermediate: FinetuneStageReport,
    target: FinetuneStageReport.describe("the target task's metrics per epoch and of the best epoch"),
    esm: z
      .object({ source_id: z.int(), source: z.string(), task_id: z.string(), pairs: z.int(), held_out_r2: z.number().nullable() })
      .describe('the ESM of the intermediate fine-tune, registered: GET /v1/esms/{source_id}'),
    checkpoints: z
      .object({ intermediate: z.string(), target: z.string(), esm: z.string() })
      .describe(
        'folders relative to the data dir: Hugging Face …ForSequenceClassification folders (config.json, model.safetensors, tokenizer) after each stage, and the ESM as an hfselect folder',
      ),
    restored: z.array(z.enum(['intermediate', 'esm', 'target'])).describe('steps a restarted job found done in its folder and did not repeat'),
    backend: z.string().describe('the TensorFlow.js backend it trained on'),
  }),
);

export const FinetuneJob = named(
  'FinetuneJob',
  z.object({
    ...jobFields,
    progress: FinetuneProgress,
    request: z.object({
      model: z.string(),
      source: z.object({
        task_id: z.string(),
        rows: z.int(),
        dataset_id: z.int().optional().describe('a registered source: its dataset in the registry'),
        hub: z
          .object({ dataset: z.string(), subset: z.string(), split: z.string(), revision: z.string().describe('the commit of refs/convert/parquet read') })
          .optional()
          .describe(
            "a published source task without a registered dataset: the Hub dataset its ESM's config names (task_id, task_subset, task_split), read from the Hub's Parquet conversion",
          ),
        source_id: z.int().optional(),
        ranking_id: z.string().optional(),
        rank: z.int().optional(),
      }),
      target: z.object({ task_id: z.string(), rows: z.int() }),
      intermediate_settings: StageSettings,
      target_settings: StageSettings,
    }),
    epochs: z.array(FinetuneEpoch).describe('the epochs of both stages so far, with their held-out metrics (while it runs, and once it succeeded)'),
    result: FinetuneResult.optional().describe('when succeeded'),
  }),
);

export const FinetuneId = z.strictObject({ id: z.string().min(1).max(100).describe('the job id POST /v1/finetunes returned') });

// ---- sources -------------------------------------------------------------------------------

export const EsmsQuery = EsmFilter.extend({
  limit: z.coerce.number<string | number>().int().min(1).max(500).default(50),
  offset: z.coerce.number<string | number>().int().min(0).default(0),
});

export const EsmId = z.strictObject({ id: registryId.describe('the registry id of the ESM') });

export const Esm = named(
  'Esm',
  z.object({
    id: z.int(),
    identity: z.string().describe('SHA-256 of the canonical config and weights'),
    task_id: z.string(),
    task_subset: z.string().nullable(),
    task_split: z.string().nullable(),
    text_column: z.union([z.string(), z.array(z.string())]).nullable(),
    label_column: z.string().nullable(),
    language: z.string().nullable(),
    num_examples: z.number().nullable(),
    base_model_name: z.string(),
    pooling: z.string().nullable(),
    esm_architecture: z.string(),
    esm_embedding_dim: z.int(),
    config: z.record(z.string(), z.unknown()).describe("hfselect's config.json"),
    weights_sha256: z.string(),
    weights_bytes: z.int(),
    origin: z.string().describe('where it came from: a folder (relative to the data dir when inside it), "upload" or "trained"'),
    training: z.record(z.string(), z.unknown()).nullable(),
    created_at: z.string(),
  }),
);

export const EsmList = named('EsmList', z.object({ total: z.int(), limit: z.int(), offset: z.int(), items: z.array(Esm) }));

export const ImportRequest = named(
  'ImportRequest',
  z.strictObject({
    path: z.string().min(1).describe('an hfselect ESM folder, or a directory searched for them, relative to <data dir>/imports/ (no "..", not absolute)'),
  }),
);

export const ImportSummary = named(
  'ImportSummary',
  z.object({
    imported: z.int(),
    skipped: z.int(),
    rejected: z.int(),
    outcomes: z.array(
      z.object({ source: z.string(), status: z.enum(['imported', 'skipped', 'rejected']), id: z.int().optional(), reason: z.string().optional() }),
    ),
  }),
);

export const EsmUpload = named(
  'EsmUpload',
  z.strictObject({
    config: z.file().describe("the ESM's config.json"),
    weights: z.file().describe("the ESM's model.safetensors"),
  }),
);

export const UploadedEsm = named('UploadedEsm', z.object({ status: z.enum(['imported', 'skipped']), source: Esm }));

// ---- models, health ------------------------------------------------------------------------

export const Model = named(
  'Model',
  z.object({
    name: z.string(),
    pooling: z.enum(POOLINGS).optional(),
    dim: z.int().optional(),
    ready: z.boolean().describe('every file needed to embed offline is there'),
    problem: z.string().optional(),
  }),
);

export const ModelList = named('ModelList', z.object({ models: z.array(Model) }));

export const Health = named('Health', z.object({ status: z.literal('ok') }));

export const Readiness = named(
  'Readiness',
  z.object({
    status: z.literal('ready'),
    esms: z.int().describe('ESMs in the registry'),
    jobs: z.record(z.enum(JOB_STATES), z.int()).describe('ranking jobs by state'),
    finetunes: z.record(z.enum(JOB_STATES), z.int()).describe('fine-tune jobs by state'),
  }),
);

export const DocsAsset = z.strictObject({ asset: z.enum(['swagger-ui.css', 'swagger-ui-bundle.js', 'swagger-ui-standalone-preset.js']) });

export const Text = z.string();
