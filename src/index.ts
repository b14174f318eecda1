/**
 * esmselect's library API: everything the CLI and the HTTP server do, callable from TypeScript or
 * JavaScript (a notebook, a script, another service).
 */
export { UserInputError } from './errors.js';
export { esmConfigSchema, parseEsmConfig, type EsmConfig } from './esm/config.js';
export { EmbeddingSpaceMap } from './esm/esm.js';
export { esmFromFiles, EsmFormatError, loadHfselectEsm, saveHfselectEsm } from './esm/hfselect.js';
export { findEsmFolders, readEsmFolders, type PoolEntry } from './esm/pool.js';
export { readEmbeddingFile, readLabelFile, writeEmbeddingFile, type EmbeddingFile } from './io/embedding-files.js';
export type { Embeddings } from './io/embeddings.js';
export { parseSafetensors, serializeSafetensors, toFloat32 } from './io/safetensors.js';
export { encodeLabels, type Labels, type TaskType } from './task/labels.js';
export { logme } from './logme/logme.js';
export { esmLogme, esmLogmeDirect } from './rank/esm-logme.js';
export { rank, type RankOptions } from './rank/rank.js';
export { rankPool, typescriptScorer, type EsmScorer, type RankedTask, type RankingResult, type RankPoolOptions } from './rank/ranking.js';
export { prepareTarget, type PreparedTarget } from './rank/target.js';
export { embeddingCacheKey, modelFingerprint, textsSha256, type EmbeddingCache } from './embed/cache.js';
export { embedDataset, embedTexts, type EmbedDatasetOptions, type EmbeddedDataset, type EmbeddedTexts, type EmbedTextsOptions } from './embed/embed-dataset.js';
export { DEFAULT_MAX_LENGTH, TextEmbedder, type EmbedderOptions, type EmbedOptions } from './embed/embedder.js';
export { describeModel, listModels, modelFolder, type EmbeddingMeta, type LocalModel } from './embed/model-folder.js';
export { poolingFor, type Pooling } from './embed/pooling.js';
export { readTextDataset, TEXT_SEPARATOR, type DatasetOptions, type TextDataset } from './dataset/text-dataset.js';
export { openTable, TABLE_FORMATS, tableFormatOf, type Table, type TableFormat, type TableRow } from './io/tables.js';
// Base models and datasets from the Hugging Face Hub (model pull, hf://datasets/ORG/NAME), and ESMs trained from two models.
export { ensureModel, POOLER_FILE, PULL_RECORD, pullModel, type PulledModel, type PullModelOptions, type PullRecord } from './embed/pull-model.js';
export { openHubDataset, PARQUET_BRANCH, type HubDatasetOptions, type HubDatasetSource } from './hub/parquet-dataset.js';
export { hubDatasetId, hubDatasetUri, isHubDataset } from './hub/dataset-uri.js';
export { embedWithTensorflow, trainEsmWithModels, type EmbeddingEngine, type TrainedWithModels, type TrainWithModelsOptions } from './finetune/esm-with-models.js';
export { locateSourceData, publishedSourceData, readHubSourceTask, type HubSourceData, type SourceData } from './registry/sources.js';
export { readSafetensorsRanges } from './io/safetensors.js';
export { ESM_TRAINING_DEFAULTS, trainEsm, varianceWeightedR2, type EsmEpoch, type EsmMetadata, type EsmTrainingOptions, type EsmTrainingReport, type EsmTrainingSettings } from './esm/train.js';
export { folderPool, type EsmPool } from './esm/pool.js';
export { openRegistry, Registry, REGISTRY_FILE, type OpenRegistryOptions } from './store/database.js';
export { applyMigrations, MIGRATIONS, schemaVersion, type Migration } from './store/migrations.js';
export { readVerifiedFile, sha256Hex, type VerifiedFile } from './store/files.js';
export { deleteEsms, exportEsm, loadRegisteredEsm, registerEsm, type RegisterOutcome } from './registry/esms.js';
export { registryPool } from './registry/pool.js';
export { esmIdentity, getEsm, listEsms, pageEsms, type EsmFilter, type EsmRecord } from './store/esms.js';
export { importEsmFolders, type ImportOptions, type ImportOutcome, type ImportSummary } from './registry/import.js';
export { checkRegistry, isHealthy, type BrokenEntry, type DoctorOptions, type DoctorReport, type TemporaryFile } from './registry/doctor.js';
export { datasetFingerprint, deleteDataset, getDataset, listDatasets, registerDataset, type DatasetInput, type DatasetRecord } from './store/datasets.js';
export {
  deleteEmbeddingCacheEntry,
  getEmbeddingCacheEntry,
  listEmbeddingCacheEntries,
  putEmbeddingCacheEntry,
  RegistryEmbeddingCache,
  type EmbeddingCacheEntry,
  type EmbeddingCacheEntryInput,
} from './store/embedding-cache.js';
export { getRankingRun, listRankingRuns, recordRankingRun, type RankingRun, type RankingRunInput } from './store/rankings.js';
export { AdamW, type AdamWOptions, type Parameter } from './tf/adamw.js';
export { clipGradNorm, GradientAccumulator } from './tf/gradients.js';
export { TrainingOptimizer, type OptimizerStep, type TrainingOptimizerOptions } from './tf/optimizer.js';
export { linearScheduleWithWarmup } from './tf/schedule.js';
export { countJobsByState, getJob, JOB_STATES, type JobProgress, type JobState, type RankingJob } from './store/jobs.js';
export { createApp } from './server/http/app.js';
export { createServerContext, DEFAULT_LIMITS, limitsFromEnv, type ServerContext, type ServerLimits, type ServerOptions } from './server/context.js';
export { startServer, type RunningServer, type StartOptions } from './server/serve.js';
export { loadNativeAddon, type NativeAddon } from './native/addon.js';
export { nativeScorer } from './rank/native-scorer.js';
export { SCORER_NAMES, selectScorer, type ScorerName, type ScorerSelection, type SelectedScorer } from './rank/scorers.js';
export { tfjsScorer } from './rank/tfjs-scorer.js';
export { createClassifier, readModelFolder, saveCheckpoint, type ModelFolder } from './finetune/checkpoint.js';
export { prepareTask, type LabelledTexts, type TextTask } from './finetune/data.js';
export { SequenceClassifier, type TokenBatch } from './finetune/encoder.js';
export { findRankedSourceDataset, findSourceDataset, readRegisteredTask, sourceFromRanking, type RankedSource } from './registry/sources.js';
export { readJobRecord, runFinetune, type FinetuneEvent, type FinetuneResult, type FinetuneRunOptions, type FinetuneSpec, type JobRecord, type JobStatus } from './finetune/job.js';
export { MASK_NAMES, MASK_SCOPES, type MaskingStrategy, type MaskName } from './finetune/masking/strategy.js';
export type { ClassificationMetrics, EvaluationMetrics, RegressionMetrics } from './finetune/metrics.js';
export { resolveStageSettings, stageSettingsSchema, type StageSettings, type StageSettingsInput } from './finetune/settings.js';
export { loadTokenizer, padBatch } from './finetune/tokenize.js';
export { embedSequences, embedWithEncoder, evaluate, trainClassifier, type EpochResult, type StageReport, type StepProgress } from './finetune/trainer.js';
export {
  DEFAULT_CANDIDATES,
  DEFAULT_FIRST_STAGE,
  FIRST_STAGES,
  rankTwoStage,
  type Candidates,
  type FirstStageName,
  type RetrievablePool,
  type StageCounts,
  type TwoStageOptions,
  type TwoStageRankedTask,
  type TwoStageRankingResult,
} from './rank/two-stage.js';
export { HNSW_DEFAULTS, HnswIndex, type HnswParameters } from './retrieval/hnsw-index.js';
export { describeSpace, type EmbeddingSpace } from './io/embedding-space.js';
export { meanDirection, TEXTEMB_TEXTS } from './retrieval/textemb.js';
export { classMeanDirections, classMeanGain, sketchEsm } from './retrieval/esm-sketch.js';
export type { EsmSketch } from './store/esm-sketches.js';
export { putSourceVectors, sourceVectorsOf, type SourceVectorInput, type SourceVectorRecord } from './store/source-vectors.js';
export { openSourceIndex, rebuildSourceIndexes, sourceIndexStatus, updateSourceIndexes, type IndexStatus, type IndexUpdate, type SourceIndexOptions } from './retrieval/source-index.js';
export { attachSourceTexts, type AttachedTexts, type AttachTextsOptions } from './retrieval/source-texts.js';
export { sketchRegisteredEsms } from './registry/esms.js';
export { JOB_KINDS, type JobKind, type StoredJob } from './store/jobs.js';
export { registeredDatasetFile, taskFromDataset } from './registry/sources.js';
export { JobRunner, type JobEvent, type JobRun, type JobType, type JobView } from './jobs/runner.js';
export { JobConflictError, JobError, JobNotFoundError, JobTimeLimitError, JobUnavailableError, QueueFullError, RunnerClosingError } from './jobs/errors.js';
export { batchRank, type BatchEvent, type BatchRankOptions, type BatchRankResult } from './batch/batch.js';
export { readManifest, type DatasetTarget, type EmbeddingsTarget, type ManifestTarget } from './batch/manifest.js';
export { DEFAULT_SHARD_SIZE, planBatch, type BatchPlan } from './batch/plan.js';
export { loadBatchTarget, type BatchTarget } from './batch/targets.js';
export { assembleRankings, summaryMatrix, type SummaryMatrix, type TargetRanking } from './batch/results.js';
export { DEFAULT_SUMMARY_TOP, writeBatchOutputs } from './batch/outputs.js';
export { BATCH_QUEUE, runOnQueue, type QueueRunOptions } from './batch/queue.js';
export { startBatchWorker, type BatchWorkerOptions, type RunningBatchWorker, type WorkerEvent } from './batch/worker.js';
export { findBatchRun, readBatchUnits, type BatchRun, type BatchUnit } from './store/batches.js';
export { DEFAULT_HUB_ENDPOINT, hubConfig, HubOfflineError, type HubConfig } from './hub/config.js';
export { HubError } from './hub/errors.js';
export { MAX_CONFIG_BYTES, MAX_WEIGHTS_BYTES } from './hub/size-limits.js';
export { DEFAULT_CONCURRENCY, pullEsms, type PullOptions, type PullOutcome, type PullProgress, type PullStatus, type PullSummary } from './registry/pull.js';
export { pushEsm, type PushOptions, type PushResult } from './registry/push.js';
export { esmModelCard } from './registry/card.js';
export { findEsmRepoIds, getEsmCoverage, searchEsms, type HubEsm, type SearchOptions } from './hub/search.js';
export { computeTaskRanking, pullHubPool, type ComputeTaskRankingOptions, type HubPoolOptions, type PoolFilters, type TaskRanking } from './registry/task-ranking.js';
export { findHubSource, hubSourcesOf, type HubSource } from './store/hub-sources.js';
