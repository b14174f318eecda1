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
export { loadNativeAddon, type NativeAddon } from './native/addon.js';
export { nativeScorer } from './rank/native-scorer.js';
export { SCORER_NAMES, selectScorer, type ScorerName, type ScorerSelection, type SelectedScorer } from './rank/scorers.js';
export { tfjsScorer } from './rank/tfjs-scorer.js';
