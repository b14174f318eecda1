import type { Tensor } from '@tensorflow/tfjs-core';
import type { EmbeddingSpaceMap } from '../esm/esm.js';
import { type Spectrum, symmetricSpectrum } from '../linalg/spectrum.js';
import { evidenceFromSpectrum } from '../logme/evidence.js';
import type { LoadedBackend } from '../tf/backend.js';
import { featureLabelProducts } from './esm-logme.js';
import type { EsmScorer } from './ranking.js';
import type { PreparedTarget } from './target.js';

/** Eigenvalues and projections of symmetric n×n float32 matrices, computed in float64. */
export interface SpectrumSolver {
  readonly name: string;
  spectra(n: number, matrices: readonly Float32Array[], rhs: readonly (readonly Float64Array[])[]): Promise<Spectrum[]>;
}

export const typescriptSpectra: SpectrumSolver = {
  name: 'TypeScript',
  async spectra(n, matrices, rhs) {
    return matrices.map((m, i) => symmetricSpectrum({ rows: n, cols: n, data: Float64Array.from(m) }, rhs[i]));
  },
};

/** [W | b] of every ESM stacked: row b·d + j is output unit j of ESM b, with its bias last. */
function stackedAugmentedWeights(esms: readonly EmbeddingSpaceMap[], d: number): Float32Array {
  const m = d + 1;
  const out = new Float32Array(esms.length * d * m);
  esms.forEach(({ weight, bias }, b) => {
    for (let j = 0; j < d; j++) {
      const row = (b * d + j) * m;
      out.set(weight.subarray(j * d, (j + 1) * d), row);
      out[row + d] = bias[j];
    }
  });
  return out;
}

/** R P (rank × m): R's columns back in the original order, so that M = (R P) W̃ᵀ needs no gather per ESM. */
function unpivotedFactor({ factor: { r, rank, perm } }: NonNullable<PreparedTarget['gram']>, m: number): Float32Array {
  const out = new Float32Array(rank * m);
  for (let i = 0; i < rank; i++) for (let a = i; a < m; a++) out[i * m + perm[a]] = r[i * m + a];
  return out;
}

/**
 * ESM-LogME with the matrix products on TensorFlow.js, in batches: the backend that runs them is the
 * GPU with tfjs-node-gpu. For N > D it forms FᵀF = MᵀM with M = (R P) W̃ᵀ (the target's factorisation,
 * as `esmLogme`); for N ≤ D, F = X Wᵀ + 1bᵀ (as hfselect, whose F is float32 too) and FFᵀ. TensorFlow.js
 * has no float64, so these products are rounded to float32: the scores are approximate (the README
 * gives the measured deviation). The eigenproblems run in float64 on `solver`; the target is prepared
 * (float64) by `prepare` when given, else in TypeScript.
 */
export function tfjsScorer({ tf, choice }: LoadedBackend, solver: SpectrumSolver, prepare?: EsmScorer['prepare']): EsmScorer {
  // The target's tensor (R P, or X), kept across batches of the same target.
  let cached: { target: PreparedTarget; tensor: Tensor } | undefined;
  const targetTensor = (target: PreparedTarget): Tensor => {
    if (cached?.target !== target) {
      cached?.tensor.dispose();
      const { rows: n, dim: d, data } = target.embeddings;
      const m = d + 1;
      const tensor = target.gram ? tf.tensor2d(unpivotedFactor(target.gram, m), [target.gram.factor.rank, m]) : tf.tensor2d(data, [n, d]);
      cached = { target, tensor };
    }
    return cached.tensor;
  };

  return {
    name: 'tfjs',
    description: `tfjs (float32 products on TensorFlow.js ${choice}, float64 spectra in ${solver.name}; approximate)`,
    batchSize: 8,
    prepare,
    async score(target, esms) {
      const { rows: n, dim: d } = target.embeddings;
      const count = esms.length;
      const base = targetTensor(target);
      const weights = stackedAugmentedWeights(esms, d);
      const grams = tf.tidy(() => {
        const w = tf.tensor2d(weights, [count * d, d + 1]);
        if (target.gram) {
          // M for all ESMs at once: (R P) [W̃₁; …; W̃_B]ᵀ is rank × B·d; then FᵀF = MᵀM per ESM.
          const rank = target.gram.factor.rank;
          const all = tf.transpose(tf.reshape(tf.matMul(base, w, false, true), [rank, count, d]), [1, 0, 2]);
          return tf.matMul(all, all, true, false);
        }
        // F = X̃ W̃ᵀ per ESM (X̃ = [X, 1]), then FFᵀ.
        const x = tf.concat([base, tf.ones([n, 1])], 1);
        const all = tf.transpose(tf.reshape(tf.matMul(x, w, false, true), [n, count, d]), [1, 0, 2]);
        return tf.matMul(all, all, false, true);
      });
      const size = target.gram ? d : n;
      let data: Float32Array;
      try {
        data = (await grams.data()) as Float32Array;
      } finally {
        grams.dispose();
      }
      const matrices = esms.map((_, b) => data.subarray(b * size * size, (b + 1) * size * size));
      const { gram } = target;
      const rhs = gram ? esms.map((esm) => featureLabelProducts(esm, gram.xty)) : esms.map(() => target.columns);
      const spectra = await solver.spectra(size, matrices, rhs);
      return spectra.map((spectrum) => evidenceFromSpectrum(spectrum, target.columnNormsSq, n, d, gram ? 'features' : 'samples'));
    },
  };
}
