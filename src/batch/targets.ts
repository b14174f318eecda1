import type { EmbeddingCache } from '../embed/cache.js';
import { embedDataset } from '../embed/embed-dataset.js';
import { UserInputError } from '../errors.js';
import { readEmbeddingFile, readLabelFile } from '../io/embedding-files.js';
import type { Embeddings } from '../io/embeddings.js';
import { validateTarget } from '../rank/target.js';
import { sha256Hex } from '../store/files.js';
import { encodeLabels, type Labels, type TaskType } from '../task/labels.js';
import type { ManifestTarget } from './manifest.js';

/** A target of a batch, read (or embedded) and validated, ready to prepare for a scorer. */
export interface BatchTarget {
  readonly name: string;
  readonly task: TaskType;
  /** The labels as given; `encodeLabels` maps them the same way on every machine. */
  readonly rawLabels: readonly unknown[];
  readonly labels: Labels;
  readonly embeddings: Embeddings;
  /** SHA-256 of `encodeBatchTarget`: the target's identity in the plan and on the queue. */
  readonly fingerprint: string;
}

/** Where a target's embeddings came from: a file, the embedding cache, or the model just now. */
export type TargetOrigin = 'file' | 'cache' | 'model';

export interface LoadTargetOptions {
  /** Embeddings of dataset targets are looked up and kept here, so a resumed batch does not embed again. */
  readonly cache?: EmbeddingCache;
  readonly onEmbedProgress?: (progress: { done: number; total: number }) => void;
}

interface TargetHeader {
  readonly format: 'esmselect-batch-target-v1';
  readonly name: string;
  readonly task: TaskType;
  readonly rows: number;
  readonly dim: number;
  readonly labels: readonly unknown[];
}

const HEADER_FORMAT = 'esmselect-batch-target-v1';

/**
 * A target as bytes, for its fingerprint and for queue workers: a little-endian uint32 header length,
 * the JSON header (name, task, shape, labels), padding to 4 bytes, then the float32 embeddings.
 */
export function encodeBatchTarget(target: Pick<BatchTarget, 'name' | 'task' | 'rawLabels' | 'embeddings'>): Uint8Array {
  const { rows, dim, data } = target.embeddings;
  const header: TargetHeader = { format: HEADER_FORMAT, name: target.name, task: target.task, rows, dim, labels: target.rawLabels };
  const json = Buffer.from(JSON.stringify(header));
  const offset = 4 + Math.ceil(json.byteLength / 4) * 4;
  const bytes = new Uint8Array(offset + data.byteLength);
  new DataView(bytes.buffer).setUint32(0, json.byteLength, true);
  bytes.set(json, 4);
  bytes.fill(0x20, 4 + json.byteLength, offset);
  bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), offset);
  return bytes;
}

function targetFrom(name: string, task: TaskType, rawLabels: readonly unknown[], embeddings: Embeddings): BatchTarget {
  const labels = encodeLabels(rawLabels, task);
  validateTarget(embeddings, labels);
  return { name, task, rawLabels, labels, embeddings, fingerprint: sha256Hex(encodeBatchTarget({ name, task, rawLabels, embeddings })) };
}

/** The target `encodeBatchTarget` wrote, checked against the fingerprint it was sent under. */
export function decodeBatchTarget(bytes: Uint8Array, fingerprint: string): BatchTarget {
  if (sha256Hex(bytes) !== fingerprint) throw new Error(`the target data does not match its fingerprint ${fingerprint.slice(0, 12)}…`);
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  const header = JSON.parse(Buffer.from(bytes.subarray(4, 4 + length)).toString('utf8')) as TargetHeader;
  if (header.format !== HEADER_FORMAT) throw new Error(`unknown target format ${String(header.format)}`);
  const offset = 4 + Math.ceil(length / 4) * 4;
  // A copy, so the Float32Array is aligned whatever the buffer's offset.
  const data = new Float32Array(header.rows * header.dim);
  new Uint8Array(data.buffer).set(bytes.subarray(offset, offset + data.byteLength));
  return targetFrom(header.name, header.task, header.labels, { rows: header.rows, dim: header.dim, data });
}

/** Reads or embeds one manifest target; every problem is a UserInputError naming the target. */
export async function loadBatchTarget(entry: ManifestTarget, options: LoadTargetOptions = {}): Promise<{ target: BatchTarget; origin: TargetOrigin }> {
  try {
    if ('embeddings' in entry) {
      const file = await readEmbeddingFile(entry.embeddings);
      const labels = entry.labels ? await readLabelFile(entry.labels) : file.labels;
      if (!labels) throw new UserInputError(`labels: ${entry.embeddings} carries no labels; give "labels"`, 'labels');
      const task = entry.task_type ?? file.task ?? 'classification';
      return { target: targetFrom(entry.name, task, labels, file.embeddings), origin: 'file' };
    }
    const { dataset, embeddings, cached } = await embedDataset(entry.dataset, {
      textColumns: entry.text_column,
      labelColumn: entry.label_column,
      task: entry.task_type,
      numExamples: entry.num_examples,
      seed: entry.seed,
      format: entry.format,
      subset: entry.subset,
      split: entry.split,
      model: entry.model,
      cache: options.cache,
      onProgress: options.onEmbedProgress,
    });
    return { target: targetFrom(entry.name, dataset.task, dataset.labels, embeddings), origin: cached ? 'cache' : 'model' };
  } catch (error) {
    if (error instanceof UserInputError) throw new UserInputError(`targets: ${entry.name}: ${error.message}`, 'targets');
    throw error;
  }
}
