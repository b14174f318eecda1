import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { PACKAGE_ROOT } from '../config.js';
import type { PivotedCholesky } from '../linalg/cholesky.js';
import type { Spectrum } from '../linalg/spectrum.js';

/** What the native factorisation of a target returns: PivotedCholesky of X̃ᵀX̃ plus X̃ᵀy per label column. */
export interface NativeGramFactor extends PivotedCholesky {
  readonly xty: Float64Array[];
}

/**
 * The C++ kernels in native/ (built by node-gyp at install time, see scripts/build-native.mjs). They
 * compute spectra only; the LogME evidence stays in src/logme/evidence.ts. Every call runs off the
 * event loop and resolves once done; the arrays passed in must not change until then.
 */
export interface NativeAddon {
  /** The vector instruction set the addon was compiled for: avx512, avx2 or baseline. */
  readonly simd: string;
  /** X̃ᵀX̃ (X̃ = [X, 1]) by pivoted Cholesky and X̃ᵀy, for the row-major n×d embeddings x. */
  factorTarget(x: Float32Array, n: number, d: number, columns: readonly Float64Array[]): Promise<NativeGramFactor>;
  /** For each ESM (W row-major d×d, b): the spectrum of FᵀF and the projections of Fᵀy (N > D). */
  featureSpectra(
    d: number,
    r: Float64Array,
    rank: number,
    perm: Int32Array,
    xty: readonly Float64Array[],
    weights: readonly Float32Array[],
    biases: readonly Float32Array[],
    threads: number,
  ): Promise<Spectrum[]>;
  /** For each ESM: the spectrum of FFᵀ (F = XWᵀ + 1bᵀ) and the projections of the label columns (N ≤ D). */
  sampleSpectra(
    x: Float32Array,
    n: number,
    d: number,
    columns: readonly Float64Array[],
    weights: readonly Float32Array[],
    biases: readonly Float32Array[],
    threads: number,
  ): Promise<Spectrum[]>;
  /** Spectra of given symmetric n×n float32 matrices (read as float64); rhs[i] are the vectors projected for matrices[i]. */
  symmetricSpectra(n: number, matrices: readonly Float32Array[], rhs: readonly (readonly Float64Array[])[], threads: number): Promise<Spectrum[]>;
}

export const NATIVE_ADDON_PATH = resolve(PACKAGE_ROOT, 'build', 'Release', 'esmselect_native.node');

let loaded: { readonly addon: NativeAddon } | { readonly problem: string } | undefined;

/** The native addon, or why it cannot be used (not built, or built for another machine). Loaded once. */
export function loadNativeAddon(): { readonly addon: NativeAddon } | { readonly problem: string } {
  if (!loaded) {
    try {
      loaded = { addon: createRequire(import.meta.url)(NATIVE_ADDON_PATH) as NativeAddon };
    } catch (error) {
      const { code, message } = error as NodeJS.ErrnoException;
      loaded = { problem: code === 'MODULE_NOT_FOUND' ? 'not built (npm run build:native)' : message.split('\n')[0] };
    }
  }
  return loaded;
}
