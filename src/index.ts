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
export { encodeLabels, type Labels, type TaskType } from './logme/labels.js';
export { logme } from './logme/logme.js';
export { esmLogme, esmLogmeDirect } from './rank/esm-logme.js';
export { rank, type RankOptions } from './rank/rank.js';
export { rankPool, typescriptScorer, type EsmScorer, type RankedTask, type RankingResult, type RankPoolOptions } from './rank/ranking.js';
export { prepareTarget, type PreparedTarget } from './rank/target.js';
export { createClassifier, readModelFolder, saveCheckpoint, type ModelFolder } from './finetune/checkpoint.js';
export { prepareTask, type LabelledTexts, type TextTask } from './finetune/data.js';
export { SequenceClassifier, type Pooling, type TokenBatch } from './finetune/encoder.js';
export { sourceFromRanking, type RankedSource } from './finetune/from-ranking.js';
export { readJobRecord, runFinetune, type FinetuneEvent, type FinetuneResult, type FinetuneRunOptions, type FinetuneSpec, type JobRecord, type JobStatus } from './finetune/job.js';
export { MASK_NAMES, MASK_SCOPES, type MaskingStrategy, type MaskName } from './finetune/masking/strategy.js';
export type { ClassificationMetrics, Metrics, RegressionMetrics } from './finetune/metrics.js';
export { resolveStageSettings, stageSettingsSchema, type StageSettings, type StageSettingsInput } from './finetune/settings.js';
export { loadTokenizer, padBatch } from './finetune/tokenize.js';
export { FinetuneJob, type FinetuneJobEvent, type FinetuneJobSnapshot } from './finetune/tracked-job.js';
export { embedSequences, evaluate, type EpochResult, type StageReport, type StepProgress } from './finetune/trainer.js';
