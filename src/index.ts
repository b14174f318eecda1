/**
 * esmselect's library API: everything the CLI and the HTTP server do, callable from TypeScript or
 * JavaScript (a notebook, a script, another service).
 */

export { type BatchEvent, type BatchRankOptions, type BatchRankResult, batchRank } from './batch/batch.js';
export { type DatasetTarget, type EmbeddingsTarget, type ManifestTarget, readManifest } from './batch/manifest.js';
export { DEFAULT_SUMMARY_TOP, writeBatchOutputs } from './batch/outputs.js';
export { type BatchPlan, DEFAULT_SHARD_SIZE, planBatch } from './batch/plan.js';
export { BATCH_QUEUE, type QueueRunOptions, runOnQueue } from './batch/queue.js';
export { assembleRankings, type SummaryMatrix, summaryMatrix, type TargetRanking } from './batch/results.js';
export { type BatchTarget, loadBatchTarget } from './batch/targets.js';
export { type BatchWorkerOptions, type RunningBatchWorker, startBatchWorker, type WorkerEvent } from './batch/worker.js';
export { type DatasetOptions, readTextDataset, TEXT_SEPARATOR, type TextDataset } from './dataset/text-dataset.js';
export { type EmbeddingCache, embeddingCacheKey, modelFingerprint, textsSha256 } from './embed/cache.js';
export { type EmbedDatasetOptions, type EmbeddedDataset, type EmbeddedTexts, type EmbedTextsOptions, embedDataset, embedTexts } from './embed/embed-dataset.js';
export { DEFAULT_MAX_LENGTH, type EmbedderOptions, type EmbedOptions, TextEmbedder } from './embed/embedder.js';
export { describeModel, type EmbeddingMeta, type LocalModel, listModels, modelFolder } from './embed/model-folder.js';
export { type Pooling, poolingFor } from './embed/pooling.js';
// Base models and datasets from the Hugging Face Hub (model pull, hf://datasets/ORG/NAME), and ESMs trained from two models.
export { ensureModel, POOLER_FILE, PULL_RECORD, type PulledModel, type PullModelOptions, type PullRecord, pullModel } from './embed/pull-model.js';
export { UserInputError } from './errors.js';
export { type EsmConfig, esmConfigSchema, parseEsmConfig } from './esm/config.js';
export { EmbeddingSpaceMap } from './esm/esm.js';
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
export { createClassifier, type ModelFolder, readModelFolder, saveCheckpoint } from './finetune/checkpoint.js';
export { type LabelledTexts, prepareTask, type TextTask } from './finetune/data.js';
export { SequenceClassifier, type TokenBatch } from './finetune/encoder.js';
export {
  type EmbeddingEngine,
  embedWithTensorflow,
  type TrainedWithModels,
  type TrainWithModelsOptions,
  trainEsmWithModels,
} from './finetune/esm-with-models.js';
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
export { loadTokenizer, padBatch } from './finetune/tokenize.js';
export { type EpochResult, embedSequences, embedWithEncoder, evaluate, type StageReport, type StepProgress, trainClassifier } from './finetune/trainer.js';
export { DEFAULT_HUB_ENDPOINT, type HubConfig, HubOfflineError, hubConfig } from './hub/config.js';
export { hubDatasetId, hubDatasetUri, isHubDataset } from './hub/dataset-uri.js';
export { HubError } from './hub/errors.js';
export { type HubDatasetOptions, type HubDatasetSource, openHubDataset, PARQUET_BRANCH } from './hub/parquet-dataset.js';
export { findEsmRepoIds, getEsmCoverage, type HubEsm, type SearchOptions, searchEsms } from './hub/search.js';
export { MAX_CONFIG_BYTES, MAX_WEIGHTS_BYTES } from './hub/size-limits.js';
export { type EmbeddingFile, readEmbeddingFile, readLabelFile, writeEmbeddingFile } from './io/embedding-files.js';
export { describeSpace, type EmbeddingSpace } from './io/embedding-space.js';
export type { Embeddings } from './io/embeddings.js';
export { parseSafetensors, readSafetensorsRanges, serializeSafetensors, toFloat32 } from './io/safetensors.js';
export { openTable, TABLE_FORMATS, type Table, type TableFormat, type TableRow, tableFormatOf } from './io/tables.js';
export { JobConflictError, JobError, JobNotFoundError, JobTimeLimitError, JobUnavailableError, QueueFullError, RunnerClosingError } from './jobs/errors.js';
export { type JobEvent, type JobRun, JobRunner, type JobType, type JobView } from './jobs/runner.js';
export { logme } from './logme/logme.js';
export { loadNativeAddon, type NativeAddon } from './native/addon.js';
export { esmLogme, esmLogmeDirect } from './rank/esm-logme.js';
export { nativeScorer } from './rank/native-scorer.js';
export { type RankOptions, rank } from './rank/rank.js';
export { type EsmScorer, type RankedTask, type RankingResult, type RankPoolOptions, rankPool, typescriptScorer } from './rank/ranking.js';
export { SCORER_NAMES, type ScorerName, type ScorerSelection, type SelectedScorer, selectScorer } from './rank/scorers.js';
export { type PreparedTarget, prepareTarget } from './rank/target.js';
export { tfjsScorer } from './rank/tfjs-scorer.js';
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
export { esmModelCard } from './registry/card.js';
export { type BrokenEntry, checkRegistry, type DoctorOptions, type DoctorReport, isHealthy, type TemporaryFile } from './registry/doctor.js';
export { deleteEsms, exportEsm, loadRegisteredEsm, type RegisterOutcome, registerEsm, sketchRegisteredEsms } from './registry/esms.js';
export { type ImportOptions, type ImportOutcome, type ImportSummary, importEsmFolders } from './registry/import.js';
export { registryPool } from './registry/pool.js';
export { DEFAULT_CONCURRENCY, type PullOptions, type PullOutcome, type PullProgress, type PullStatus, type PullSummary, pullEsms } from './registry/pull.js';
export { type PushOptions, type PushResult, pushEsm } from './registry/push.js';
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
export {
  type ComputeTaskRankingOptions,
  computeTaskRanking,
  type HubPoolOptions,
  type PoolFilters,
  pullHubPool,
  type TaskRanking,
} from './registry/task-ranking.js';
export { classMeanDirections, classMeanGain, sketchEsm } from './retrieval/esm-sketch.js';
export { HNSW_DEFAULTS, HnswIndex, type HnswParameters } from './retrieval/hnsw-index.js';
export {
  type IndexStatus,
  type IndexUpdate,
  openSourceIndex,
  rebuildSourceIndexes,
  type SourceIndexOptions,
  sourceIndexStatus,
  updateSourceIndexes,
} from './retrieval/source-index.js';
export { type AttachedTexts, type AttachTextsOptions, attachSourceTexts } from './retrieval/source-texts.js';
export { meanDirection, TEXTEMB_TEXTS } from './retrieval/textemb.js';
export { createServerContext, DEFAULT_LIMITS, limitsFromEnv, type ServerContext, type ServerLimits, type ServerOptions } from './server/context.js';
export { createApp } from './server/http/app.js';
export { type RunningServer, type StartOptions, startServer } from './server/serve.js';
export { type BatchRun, type BatchUnit, findBatchRun, readBatchUnits } from './store/batches.js';
export { type OpenRegistryOptions, openRegistry, REGISTRY_FILE, Registry } from './store/database.js';
export { type DatasetInput, type DatasetRecord, datasetFingerprint, deleteDataset, getDataset, listDatasets, registerDataset } from './store/datasets.js';
export {
  deleteEmbeddingCacheEntry,
  type EmbeddingCacheEntry,
  type EmbeddingCacheEntryInput,
  getEmbeddingCacheEntry,
  listEmbeddingCacheEntries,
  putEmbeddingCacheEntry,
  RegistryEmbeddingCache,
} from './store/embedding-cache.js';
export type { EsmSketch } from './store/esm-sketches.js';
export { type EsmFilter, type EsmRecord, esmIdentity, getEsm, listEsms, pageEsms } from './store/esms.js';
export { readVerifiedFile, sha256Hex, type VerifiedFile } from './store/files.js';
export { findHubSource, type HubSource, hubSourcesOf } from './store/hub-sources.js';
export {
  countJobsByState,
  getJob,
  JOB_KINDS,
  JOB_STATES,
  type JobKind,
  type JobProgress,
  type JobState,
  type RankingJob,
  type StoredJob,
} from './store/jobs.js';
export { applyMigrations, MIGRATIONS, type Migration, schemaVersion } from './store/migrations.js';
export { getRankingRun, listRankingRuns, type RankingRun, type RankingRunInput, recordRankingRun } from './store/rankings.js';
export { putSourceVectors, type SourceVectorInput, type SourceVectorRecord, sourceVectorsOf } from './store/source-vectors.js';
export { encodeLabels, type Labels, type TaskType } from './task/labels.js';
export { AdamW, type AdamWOptions, type Parameter } from './tf/adamw.js';
export { clipGradNorm, GradientAccumulator } from './tf/gradients.js';
export { type OptimizerStep, TrainingOptimizer, type TrainingOptimizerOptions } from './tf/optimizer.js';
export { linearScheduleWithWarmup } from './tf/schedule.js';
