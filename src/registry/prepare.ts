import { availableParallelism, endianness } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { type EsmConfig, LEGACY_VERSION, parseEsmConfig } from '../esm/config.js';
import { EmbeddingSpaceMap, firstNonFinite } from '../esm/esm.js';
import { EsmFormatError, esmFromFiles, esmWeightsFile, esmWeightsHeader } from '../esm/hfselect.js';
import { parseSafetensors, type RawTensor, toFloat32 } from '../io/safetensors.js';
import { sketchEsm } from '../retrieval/esm-sketch.js';
import type { EsmSketch } from '../store/esm-sketches.js';
import { sha256Hex } from '../store/files.js';

/**
 * The CPU work of registering a downloaded ESM, done before the registry is touched: reading and
 * checking the files (hfselect's loader and more), the canonical weights file and its SHA-256, and
 * the class-means sketch (rows·D² multiply-adds). A pull of many ESMs does it in worker threads, so
 * the thread that downloads and commits is never the bottleneck; the megabytes go to and fro as
 * moved buffers, not copies.
 */
export interface PreparedEsm {
  readonly config: EsmConfig;
  /** The canonical weights file (`esmWeightsFile`) and its SHA-256. */
  readonly weightsFile: Uint8Array;
  readonly sha256: string;
  readonly sketch: EsmSketch;
}

export interface PrepareTask {
  readonly source: string;
  readonly configText: string;
  /** The downloaded model.safetensors; moved to the worker (it must own its buffer alone). */
  readonly weights: Uint8Array;
}

/** The prepared ESM, or why the files are not one (an EsmFormatError's problem: errors do not cross threads). */
export type Prepared = PreparedEsm | { readonly problem: string };

/**
 * The ESM of a weights file already in the canonical layout (as hfselect's are: `esmWeightsFile`'s
 * header, F32, little-endian) and with finite weights, read in place: the file is its own canonical
 * file. Null for any other file; `esmFromFiles` then reads it, and says what is wrong with it.
 */
function canonicalEsm(task: PrepareTask): { esm: EmbeddingSpaceMap; weightsFile: Uint8Array } | null {
  if (!LITTLE_ENDIAN || task.weights.byteOffset % 4 !== 0) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(task.configText);
  } catch {
    return null;
  }
  const parsed = parseEsmConfig(raw);
  if ('problem' in parsed || parsed.config.version === LEGACY_VERSION) return null;
  const dim = parsed.config.esm_embedding_dim;
  const header = esmWeightsHeader(dim);
  const { weights } = task;
  if (weights.byteLength !== header.byteLength + (dim + dim * dim) * 4 || !Buffer.from(header).equals(weights.subarray(0, header.byteLength))) return null;
  const bias = new Float32Array(weights.buffer, weights.byteOffset + header.byteLength, dim);
  const weight = new Float32Array(weights.buffer, weights.byteOffset + header.byteLength + dim * 4, dim * dim);
  if (firstNonFinite(bias, dim) || firstNonFinite(weight, dim)) return null;
  return { esm: new EmbeddingSpaceMap(parsed.config, weight, bias), weightsFile: weights };
}

export function prepareEsm(task: PrepareTask): Prepared {
  let canonical = canonicalEsm(task);
  if (!canonical) {
    try {
      const esm = esmFromFiles(task.source, task.configText, task.weights);
      canonical = { esm, weightsFile: esmWeightsFile(esm) };
    } catch (error) {
      if (error instanceof EsmFormatError) return { problem: error.problem };
      throw error;
    }
  }
  const { esm, weightsFile } = canonical;
  return { config: esm.config, weightsFile, sha256: sha256Hex(weightsFile), sketch: sketchEsm(esm) };
}

/** The buffers of a prepared ESM, to move rather than copy between threads. */
export function preparedBuffers(prepared: Prepared): ArrayBuffer[] {
  return 'problem' in prepared ? [] : [prepared.weightsFile.buffer as ArrayBuffer, prepared.sketch.sketch.buffer as ArrayBuffer];
}

const LITTLE_ENDIAN = endianness() === 'LE';

/** A tensor of the canonical file as Float32Array: a view into the file where byte order and alignment allow. */
function floats(tensor: RawTensor): Float32Array {
  const { bytes } = tensor;
  return LITTLE_ENDIAN && bytes.byteOffset % 4 === 0 ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4) : toFloat32(tensor);
}

/** The ESM of a prepared one, its weights read from the canonical file it came back with. */
export function preparedMap(prepared: PreparedEsm): EmbeddingSpaceMap {
  const { tensors } = parseSafetensors(prepared.weightsFile);
  return new EmbeddingSpaceMap(prepared.config, floats(tensors.get('model.weight')!), floats(tensors.get('model.bias')!));
}

/** Prepares ESMs in this thread, or in a pool of worker threads. */
export interface Preparer {
  prepare(task: PrepareTask): Promise<Prepared>;
  close(): Promise<void>;
}

const here = fileURLToPath(import.meta.url);
/** The worker's entry beside this module: compiled JavaScript, or TypeScript through tsx (development, tests). */
const WORKER = join(dirname(here), `prepare-worker${extname(here)}`);

/** `threads` worker threads (at most the machine's cores), or this thread when `threads` is 0. */
export function createPreparer(threads: number): Preparer {
  const count = Math.min(threads, availableParallelism());
  if (count < 1) return { prepare: async (task) => prepareEsm(task), close: async () => {} };
  const pool = new Piscina<PrepareTask, Prepared>({
    filename: WORKER,
    minThreads: 0,
    maxThreads: count,
    idleTimeout: 1000,
    execArgv: extname(here) === '.ts' ? ['--import', 'tsx'] : [],
  });
  return {
    prepare: (task) => pool.run(task, { transferList: [task.weights.buffer as ArrayBuffer] }),
    close: () => pool.destroy(),
  };
}
