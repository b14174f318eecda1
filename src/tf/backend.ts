import * as tf from '@tensorflow/tfjs-core';
// tfjs-core alone registers no gradient functions; the union package registers them all, which
// training (ESMs, the fine-tuning runner) needs for tf.grads.
import '@tensorflow/tfjs';

/** The TensorFlow.js backends esmselect tries, fastest first. */
export const BACKEND_CHAIN = ['node-gpu', 'node', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHAIN)[number];

export interface LoadedBackend {
  readonly tf: typeof tf;
  readonly choice: BackendChoice;
  /** One line for logs: the backend used and why the faster ones were not. */
  readonly description: string;
}

const loaders: Record<BackendChoice, () => Promise<string>> = {
  // tfjs-node(-gpu) register the 'tensorflow' backend on import; they are optional dependencies
  // because their install downloads libtensorflow.
  'node-gpu': async () => {
    await import('@tensorflow/tfjs-node-gpu' as string);
    return 'tensorflow';
  },
  node: async () => {
    await import('@tensorflow/tfjs-node' as string);
    return 'tensorflow';
  },
  wasm: async () => {
    await import('@tensorflow/tfjs-backend-wasm');
    return 'wasm';
  },
  cpu: async () => {
    await import('@tensorflow/tfjs-backend-cpu');
    return 'cpu';
  },
};

let loaded: Promise<LoadedBackend> | undefined;

function requestedChain(): readonly BackendChoice[] {
  const requested = process.env.ESMSELECT_BACKEND;
  if (!requested) return BACKEND_CHAIN;
  if (!(BACKEND_CHAIN as readonly string[]).includes(requested)) {
    throw new Error(`ESMSELECT_BACKEND=${requested} is not one of ${BACKEND_CHAIN.join(', ')}`);
  }
  return [requested as BackendChoice];
}

async function firstWorkingBackend(): Promise<LoadedBackend> {
  const skipped: string[] = [];
  for (const choice of requestedChain()) {
    try {
      const name = await loaders[choice]();
      if (!(await tf.setBackend(name))) throw new Error('backend failed to initialise');
      await tf.ready();
      // PROD silences tfjs's console advice to install tfjs-node: the description below says it.
      tf.env().set('PROD', true);
      const why = skipped.length ? ` (unavailable: ${skipped.join('; ')})` : '';
      return { tf, choice, description: `TensorFlow.js backend: ${choice}${why}` };
    } catch (error) {
      const message = (error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' ? 'not installed' : (error as Error).message.split('\n')[0];
      skipped.push(`${choice}: ${message}`);
    }
  }
  throw new Error(`no TensorFlow.js backend could be loaded: ${skipped.join('; ')}`);
}

/**
 * Loads the fastest available TensorFlow.js backend (node-gpu → node → wasm → cpu), or exactly the
 * one ESMSELECT_BACKEND names. Loaded once per process.
 */
export function loadTensorflow(): Promise<LoadedBackend> {
  loaded ??= firstWorkingBackend();
  return loaded;
}
