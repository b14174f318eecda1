import { evidenceFromSpectrum } from '../logme/evidence.js';
import type { NativeAddon } from '../native/addon.js';
import type { EsmScorer } from './ranking.js';
import { prepareTargetWith } from './target.js';

/**
 * ESM-LogME on the native addon: the same algorithm as `esmLogme` (N > D: spectrum of FᵀF from the
 * target's factorisation; N ≤ D: spectrum of FFᵀ), in float64 C++ with one ESM per thread. The addon
 * returns spectra and `evidenceFromSpectrum` turns them into scores, as for the TypeScript path.
 */
export function nativeScorer(addon: NativeAddon, threads: number): EsmScorer {
  return {
    name: 'native',
    description: `native (C++ addon, float64, ${addon.simd}, ${threads} thread${threads === 1 ? '' : 's'})`,
    // A few ESMs per thread, so the threads finish together and each batch is a small share of memory.
    batchSize: 4 * threads,
    prepare: (embeddings, labels) =>
      prepareTargetWith(embeddings, labels, async ({ rows, dim, data }, columns) => {
        const { r, rank, perm, xty } = await addon.factorTarget(data, rows, dim, columns);
        return { factor: { r, rank, perm }, xty };
      }),
    async score(target, esms) {
      const { rows: n, dim: d, data } = target.embeddings;
      const weights = esms.map((esm) => esm.weight);
      const biases = esms.map((esm) => esm.bias);
      if (target.gram) {
        const { factor, xty } = target.gram;
        const spectra = await addon.featureSpectra(d, factor.r, factor.rank, factor.perm, xty, weights, biases, threads);
        return spectra.map((spectrum) => evidenceFromSpectrum(spectrum, target.columnNormsSq, n, d, 'features'));
      }
      const spectra = await addon.sampleSpectra(data, n, d, target.columns, weights, biases, threads);
      return spectra.map((spectrum) => evidenceFromSpectrum(spectrum, target.columnNormsSq, n, d, 'samples'));
    },
  };
}
