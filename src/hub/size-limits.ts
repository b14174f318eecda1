import { UserInputError } from '../errors.js';

/**
 * How much esmselect takes from the Hub at most, checked against the sizes the Hub announces before
 * anything is downloaded, and against the bytes actually received while downloading.
 */

const MIB = 2 ** 20;

/** Configuration and tokenizer files (config.json, tokenizer.json, vocab.txt, …); real ones are a few MB. */
export const MAX_SMALL_FILE_BYTES = 64 * MIB;

/** An ESM's config.json larger than this is refused unread (hfselect's are under 2 KB). */
export const MAX_CONFIG_BYTES = MIB;
/** An ESM's weights file larger than this is refused whatever its config says: D up to about 8,000. */
export const MAX_WEIGHTS_BYTES = 256 * MIB;

/** A size limit and the environment variable that raises it, named in the refusal. */
export interface SizeLimit {
  readonly bytes: number;
  readonly variable?: string;
}

function limitFromEnv(variable: string, defaultMb: number, env: NodeJS.ProcessEnv): SizeLimit {
  const raw = env[variable]?.trim();
  if (!raw) return { bytes: defaultMb * MIB, variable };
  const mb = Number(raw);
  if (!Number.isFinite(mb) || mb <= 0) throw new UserInputError(`${variable}: expected a positive number of MB, got ${JSON.stringify(raw)}`, variable);
  return { bytes: Math.floor(mb * MIB), variable };
}

/** One model file downloaded whole: an ONNX graph or model.safetensors (ESMSELECT_HUB_MAX_MODEL_MB, default 4096). */
export function modelFileLimit(env: NodeJS.ProcessEnv = process.env): SizeLimit {
  return limitFromEnv('ESMSELECT_HUB_MAX_MODEL_MB', 4096, env);
}

/** The Parquet files of one split of a dataset together (ESMSELECT_HUB_MAX_DATASET_MB, default 2048). */
export function datasetLimit(env: NodeJS.ProcessEnv = process.env): SizeLimit {
  return limitFromEnv('ESMSELECT_HUB_MAX_DATASET_MB', 2048, env);
}

export const SMALL_FILE_LIMIT: SizeLimit = { bytes: MAX_SMALL_FILE_BYTES };

/** Bytes for people: 1.5 MB, 640 KB, 312 B. */
export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(1)} GB`;
  if (bytes >= MIB) return `${(bytes / MIB).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${bytes} B`;
}

/** "at most 2.0 GB (ESMSELECT_HUB_MAX_DATASET_MB raises it)" */
export function describeLimit(limit: SizeLimit): string {
  return `at most ${formatBytes(limit.bytes)}${limit.variable ? ` (${limit.variable} raises it)` : ''}`;
}
