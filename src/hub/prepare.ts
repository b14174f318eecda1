import { availableParallelism } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { EsmConfig } from '../esm/config.js';
import { EmbeddingSpaceMap } from '../esm/esm.js';
import { esmFromFiles, EsmFormatError, esmWeightsFile } from '../esm/hfselect.js';
import { sketchEsm, type EsmSketch } from '../index/esm-sketch.js';
import { sha256Hex } from '../store/files.js';

/**
 * The CPU work of registering a downloaded ESM, done before the registry is touched: reading and
 * checking the files (hfselect's loader and more), the canonical weights file and its SHA-256, and
 * the class-means sketch (rows·D² multiply-adds). A pull of many ESMs does it in worker threads, so
 * the thread that downloads and commits is never the bottleneck.
 */
export interface PreparedEsm {
  readonly config: EsmConfig;
  readonly weight: Float32Array;
  readonly bias: Float32Array;
  /** The canonical weights file (`esmWeightsFile`) and its SHA-256. */
  readonly weightsFile: Uint8Array;
  readonly sha256: string;
  readonly sketch: EsmSketch;
}

export interface PrepareTask {
  readonly source: string;
  readonly configText: string;
  readonly weights: Uint8Array;
}

/** The prepared ESM, or why the files are not one (an EsmFormatError's problem: errors do not cross threads). */
export type Prepared = PreparedEsm | { readonly problem: string };

export function prepareEsm(task: PrepareTask): Prepared {
  let esm: EmbeddingSpaceMap;
  try {
    esm = esmFromFiles(task.source, task.configText, task.weights);
  } catch (error) {
    if (error instanceof EsmFormatError) return { problem: error.problem };
    throw error;
  }
  const weightsFile = esmWeightsFile(esm);
  return { config: esm.config, weight: esm.weight, bias: esm.bias, weightsFile, sha256: sha256Hex(weightsFile), sketch: sketchEsm(esm) };
}

export function preparedMap(prepared: PreparedEsm): EmbeddingSpaceMap {
  return new EmbeddingSpaceMap(prepared.config, prepared.weight, prepared.bias);
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
  const pool = new Piscina<PrepareTask, Prepared>({ filename: WORKER, minThreads: 0, maxThreads: count, idleTimeout: 1000, execArgv: extname(here) === '.ts' ? ['--import', 'tsx'] : [] });
  return {
    // Copied to the worker, not transferred: a small download may share its buffer with other Buffers.
    prepare: (task) => pool.run(task),
    close: () => pool.destroy(),
  };
}
