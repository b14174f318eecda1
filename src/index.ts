/**
 * esmselect's library API: what the CLI and the HTTP service do, callable from TypeScript or
 * JavaScript (a notebook, a script, another service). The sections follow the data flow
 * (ARCHITECTURE.md): datasets and embeddings → ESMs → ranking → the registry → the Hub →
 * fine-tuning → batches → jobs and the service. Modules not exported here are internals.
 */

// Errors every function may throw: bad input (naming the field at fault) and the Hub's refusals.

export { UserInputError } from './errors.js';
export { HubError } from './hub/errors.js';

// Datasets and embeddings: reading a labelled dataset (a file or hf://datasets/ORG/NAME), embedding it
// with a base model from the models directory as hfselect does, and embedding files.

export { type DatasetOptions, readTextDataset, TEXT_SEPARATOR, type TextDataset } from './dataset/text-dataset.js';
export type { EmbeddingCache } from './embed/cache.js';
export { type EmbedDatasetOptions, type EmbeddedDataset, type EmbeddedTexts, type EmbedTextsOptions, embedDataset, embedTexts } from './embed/embed-dataset.js';
export { DEFAULT_MAX_LENGTH, type EmbedderOptions, type EmbedOptions, TextEmbedder } from './embed/embedder.js';
export { describeModel, type EmbeddingMeta, type LocalModel, listModels, modelFolder } from './embed/model-folder.js';
export { type Pooling, poolingFor } from './embed/pooling.js';
export { type EmbeddingFile, readEmbeddingFile, readLabelFile, writeEmbeddingFile } from './io/embedding-files.js';
export { describeSpace, type EmbeddingSpace } from './io/embedding-space.js';
export type { Embeddings } from './io/embeddings.js';
export { TABLE_FORMATS, type TableFormat } from './io/tables.js';
export { encodeLabels, type Labels, type TaskType } from './task/labels.js';

// ESMs: hfselect's Embedding Space Maps, their folders and configs, and training one from base and
// fine-tuned embeddings (or from the two models).

export { type EsmConfig, esmConfigSchema, parseEsmConfig } from './esm/config.js';
export { EmbeddingSpaceMap } from './esm/esm.js';
export type { EsmFilter } from './esm/filter.js';
export { EsmFormatError, esmFromFiles, loadHfselectEsm, saveHfselectEsm } from './esm/hfselect.js';
export { type EsmPool, findEsmFolders, folderPool, type PoolEntry, readEsmFolders } from './esm/pool.js';
export {
  ESM_TRAINING_DEFAULTS,
  type EsmEpoch,
  type EsmMetadata,
  type EsmTrainingOptions,
  type EsmTrainingReport,
  type EsmTrainingSettings,
  trainEsm,
  varianceWeightedR2,
} from './esm/train.js';
export { type TrainedWithModels, type TrainWithModelsOptions, trainEsmWithModels } from './finetune/esm-with-models.js';

// Ranking: ESM-LogME over a pool of ESMs (folders or the registry), the scorers, LogME itself, and the
// two-stage ranking that narrows a large pool first.

export { logme } from './logme/logme.js';
export { loadNativeAddon, type NativeAddon } from './native/addon.js';
export { esmLogme } from './rank/esm-logme.js';
export { type RankOptions, rank } from './rank/rank.js';
export { type EsmScorer, type RankedTask, type RankingResult, type RankPoolOptions, rankPool } from './rank/ranking.js';
export { SCORER_NAMES, type ScorerName, type ScorerSelection, type SelectedScorer, selectScorer } from './rank/scorers.js';
export { type PreparedTarget, prepareTarget } from './rank/target.js';
export {
  type Candidates,
  DEFAULT_CANDIDATES,
  DEFAULT_FIRST_STAGE,
  FIRST_STAGES,
  type FirstStageName,
  type RetrievablePool,
  rankTwoStage,
  type StageCounts,
  type TwoStageOptions,
  type TwoStageRankedTask,
  type TwoStageRankingResult,
} from './rank/two-stage.js';

// The registry: a SQLite database and content-addressed files in the data dir holding ESMs, datasets,
// ranking runs and the embedding cache; importing, exporting and checking it; the first stage's index.

export { type BrokenEntry, checkRegistry, type DoctorOptions, type DoctorReport, isHealthy } from './registry/doctor.js';
export { deleteEsms, exportEsm, loadRegisteredEsm, type RegisterOutcome, registerEsm } from './registry/esms.js';
export { type ImportOptions, type ImportOutcome, type ImportSummary, importEsmFolders } from './registry/import.js';
export { registryPool } from './registry/pool.js';
export { HNSW_DEFAULTS, HnswIndex, type HnswParameters } from './retrieval/hnsw-index.js';
export {
  type IndexStatus,
  type IndexUpdate,
  rebuildSourceIndexes,
  type SourceIndexOptions,
  sourceIndexStatus,
  updateSourceIndexes,
} from './retrieval/source-index.js';
export { type AttachedTexts, type AttachTextsOptions, attachSourceTexts } from './retrieval/source-texts.js';
export { type OpenRegistryOptions, openRegistry, REGISTRY_FILE, Registry } from './store/database.js';
export { type DatasetInput, type DatasetRecord, deleteDataset, getDataset, listDatasets, registerDataset } from './store/datasets.js';
export { RegistryEmbeddingCache } from './store/embedding-cache.js';
export { type EsmRecord, getEsm, listEsms, pageEsms } from './store/esms.js';
export { type HubSource, hubSourcesOf } from './store/hub-sources.js';
export { getRankingRun, listRankingRuns, type RankingRun, type RankingRunInput, recordRankingRun } from './store/rankings.js';

// The Hugging Face Hub: its configuration (HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE), base models, datasets,
// and the published ESMs (hfselect's compute_task_ranking, find_esm_repo_ids, get_esm_coverage, ESM.publish).

export { type PulledModel, type PullModelOptions, type PullRecord, pullModel } from './embed/pull-model.js';
export { DEFAULT_HUB_ENDPOINT, type HubConfig, HubOfflineError, hubConfig } from './hub/config.js';
export { hubDatasetId, hubDatasetUri, isHubDataset } from './hub/dataset-uri.js';
export { type HubDatasetOptions, type HubDatasetSource, openHubDataset } from './hub/parquet-dataset.js';
export { findEsmRepoIds, getEsmCoverage, type HubEsm, type SearchOptions, searchEsms } from './hub/search.js';
export { esmModelCard } from './registry/card.js';
export { DEFAULT_CONCURRENCY, type PullOptions, type PullOutcome, type PullProgress, type PullStatus, type PullSummary, pullEsms } from './registry/pull.js';
export { type PushOptions, type PushResult, pushEsm } from './registry/push.js';
export {
  type ComputeTaskRankingOptions,
  computeTaskRanking,
  type HubPoolOptions,
  type PoolFilters,
  pullHubPool,
  type TaskRanking,
} from './registry/task-ranking.js';

// Fine-tuning: the two-stage runner (source task, then target; optionally GMT or DPS masking), its
// settings and metrics, and where a ranked source task's data lives.

export type { LabelledTexts, TextTask } from './finetune/data.js';
export {
  type FinetuneEvent,
  type FinetuneResult,
  type FinetuneRunOptions,
  type FinetuneSpec,
  type JobRecord,
  type JobStatus,
  readJobRecord,
  runFinetune,
} from './finetune/job.js';
export { MASK_NAMES, MASK_SCOPES, type MaskingStrategy, type MaskName } from './finetune/masking/strategy.js';
export type { ClassificationMetrics, EvaluationMetrics, RegressionMetrics } from './finetune/metrics.js';
export { resolveStageSettings, type StageSettings, type StageSettingsInput, stageSettingsSchema } from './finetune/settings.js';
export {
  findRankedSourceDataset,
  findSourceDataset,
  type HubSourceData,
  locateSourceData,
  publishedSourceData,
  type RankedSource,
  readHubSourceTask,
  readRegisteredTask,
  registeredDatasetFile,
  type SourceData,
  sourceFromRanking,
  taskFromDataset,
} from './registry/sources.js';

// Batch ranking: many targets against a whole pool, resumable, on one machine or on BullMQ workers.

export { type BatchEvent, type BatchRankOptions, type BatchRankResult, batchRank } from './batch/batch.js';
export { type DatasetTarget, type EmbeddingsTarget, type ManifestTarget, readManifest } from './batch/manifest.js';
export { DEFAULT_SUMMARY_TOP } from './batch/outputs.js';
export { DEFAULT_SHARD_SIZE } from './batch/plan.js';
export { BATCH_QUEUE, type QueueRunOptions, runOnQueue } from './batch/queue.js';
export { type BatchWorkerOptions, type RunningBatchWorker, startBatchWorker, type WorkerEvent } from './batch/worker.js';

// Jobs and the HTTP service: the job runner (queues, bounds, time limits, restarts) with its errors,
// and the service as an app to mount or a server to start.

export { JobConflictError, JobError, JobNotFoundError, JobTimeLimitError, JobUnavailableError, QueueFullError, RunnerClosingError } from './jobs/errors.js';
export { type JobEvent, type JobRun, JobRunner, type JobType, type JobView } from './jobs/runner.js';
export { createServerContext, DEFAULT_LIMITS, limitsFromEnv, type ServerContext, type ServerLimits, type ServerOptions } from './server/context.js';
export { createApp } from './server/http/app.js';
export { type RunningServer, type StartOptions, startServer } from './server/serve.js';
export type { JobProgress, JobState } from './store/jobs.js';
