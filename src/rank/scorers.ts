import { availableParallelism } from 'node:os';
import { UserInputError } from '../errors.js';
import { loadNativeAddon, type NativeAddon } from '../native/addon.js';
import { loadTensorflow } from '../tf/backend.js';
import { nativeScorer } from './native-scorer.js';
import { type EsmScorer, typescriptScorer } from './ranking.js';
import { type SpectrumSolver, tfjsScorer, typescriptSpectra } from './tfjs-scorer.js';

export const SCORER_NAMES = ['native', 'typescript', 'tfjs'] as const;
export type ScorerName = (typeof SCORER_NAMES)[number];

export interface SelectedScorer {
  readonly scorer: EsmScorer;
  /** One line for logs: the scorer, and the TensorFlow.js backend when it uses one. */
  readonly description: string;
}

export interface ScorerSelection {
  /** Default: ESMSELECT_SCORER, else automatic (native when the addon loads, else typescript). */
  readonly scorer?: ScorerName;
  /** Threads of the native scorer. Default: ESMSELECT_THREADS, else the available cores. */
  readonly threads?: number;
}

function requestedScorer(): ScorerName | undefined {
  const requested = process.env.ESMSELECT_SCORER;
  if (!requested || requested === 'auto') return undefined;
  if (!(SCORER_NAMES as readonly string[]).includes(requested)) {
    throw new UserInputError(`ESMSELECT_SCORER=${requested} is not one of auto, ${SCORER_NAMES.join(', ')}`, 'ESMSELECT_SCORER');
  }
  return requested as ScorerName;
}

function requestedThreads(): number {
  const requested = process.env.ESMSELECT_THREADS;
  if (!requested) return availableParallelism();
  const threads = Number(requested);
  if (!Number.isInteger(threads) || threads < 1) throw new UserInputError(`ESMSELECT_THREADS=${requested} is not a positive integer`, 'ESMSELECT_THREADS');
  return threads;
}

function nativeSpectra(addon: NativeAddon, threads: number): SpectrumSolver {
  return { name: 'the native addon', spectra: (n, matrices, rhs) => addon.symmetricSpectra(n, matrices, rhs, threads) };
}

/**
 * Picks the ESM scorer. All compute the same ESM-LogME; `native` (C++, float64, all cores) is the
 * fastest exact one and the default when its addon was built, `typescript` the portable fallback.
 * `tfjs` (TensorFlow.js matrix products, the GPU with tfjs-node-gpu) rounds its products to float32,
 * so it is used only when asked for.
 */
export async function selectScorer(selection: ScorerSelection = {}): Promise<SelectedScorer> {
  const name = selection.scorer ?? requestedScorer();
  const threads = selection.threads ?? requestedThreads();
  const native = loadNativeAddon();
  const noTensorflow = 'TensorFlow.js not used';
  if (name === 'tfjs') {
    const backend = await loadTensorflow();
    // The float64 parts (target factorisation, eigenproblems) run natively when the addon is there.
    const scorer =
      'addon' in native
        ? tfjsScorer(backend, nativeSpectra(native.addon, threads), nativeScorer(native.addon, threads).prepare)
        : tfjsScorer(backend, typescriptSpectra);
    return { scorer, description: `scorer ${scorer.description ?? scorer.name}; ${backend.description}` };
  }
  const fallback = (why: string): SelectedScorer => ({
    scorer: typescriptScorer,
    description: `scorer ${typescriptScorer.description ?? typescriptScorer.name}, ${why}; ${noTensorflow}`,
  });
  if (name === 'typescript') return fallback('as requested');
  if ('addon' in native) {
    const scorer = nativeScorer(native.addon, threads);
    return { scorer, description: `scorer ${scorer.description ?? scorer.name}; ${noTensorflow}` };
  }
  if (name === 'native') throw new UserInputError(`ESMSELECT_SCORER=native: the native addon is unavailable (${native.problem})`, 'ESMSELECT_SCORER');
  return fallback(`native addon unavailable: ${native.problem}`);
}
