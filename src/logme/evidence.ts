import { EPS } from '../linalg/matrix.js';
import type { Spectrum } from '../linalg/spectrum.js';

/** hfselect's guard against division by zero in the α, β updates. */
const GUARD = 1e-5;
const MAX_ITERATIONS = 50;
const TOLERANCE = 1e-3;
/** hfselect's rank cut-off: singular values of F at or below it are dropped (truncated_svd). */
const SINGULAR_VALUE_CUTOFF = 1e-10;

/**
 * Log evidence per sample of one target column y under the Bayesian linear model of LogME, maximised
 * over α, β by the fixed-point iteration of You et al., "Ranking and Tuning Pre-trained Models",
 * arXiv 2110.10545, Alg. 2 — exactly as hfselect's `LogME._fit_fixed_point` computes it:
 *
 *   t = α/β,  γ = Σ σᵢ/(σᵢ+t),  m² = Σ σᵢxᵢ²/(t+σᵢ)²,  r² = Σ xᵢ²/(1+σᵢ/t)² + (‖y‖² − Σ xᵢ²)
 *   α ← γ/(m²+1e-5),  β ← (N−γ)/(r²+1e-5),  stop when |t'−t|/t ≤ 1e-3 (at most 50 rounds)
 *   L = D/2 log α + N/2 log β − ½ Σ log(α+βσᵢ) − β/2 r² − α/2 m² − N/2 log 2π,  score L/N
 *
 * σᵢ are the squared singular values of F (N×D), xᵢ = uᵢᵀy the projections of y on its left
 * singular vectors.
 */
export function fixedPointEvidence(sigma: Float64Array, x2: Float64Array, yNormSq: number, n: number, d: number): number {
  const k = sigma.length;
  let x2Sum = 0;
  for (let i = 0; i < k; i++) x2Sum += x2[i];
  const resX2 = yNormSq - x2Sum;

  let alpha = 1;
  let beta = 1;
  let m2 = 0;
  let res2 = 0;
  for (let iteration = 0; iteration < MAX_ITERATIONS; iteration++) {
    const t = alpha / beta;
    let gamma = 0;
    m2 = 0;
    res2 = 0;
    for (let i = 0; i < k; i++) {
      const s = sigma[i];
      gamma += s / (s + t);
      m2 += (s * x2[i]) / ((t + s) * (t + s));
      const shrink = 1 + s / t;
      res2 += x2[i] / (shrink * shrink);
    }
    res2 += resX2;
    alpha = gamma / (m2 + GUARD);
    beta = (n - gamma) / (res2 + GUARD);
    if (Math.abs(alpha / beta - t) / t <= TOLERANCE) break;
  }
  let logDet = 0;
  for (let i = 0; i < k; i++) logDet += Math.log(alpha + beta * sigma[i]);
  const evidence = (d / 2) * Math.log(alpha) + (n / 2) * Math.log(beta) - 0.5 * logDet - (beta / 2) * res2 - (alpha / 2) * m2 - (n / 2) * Math.log(2 * Math.PI);
  return evidence / n;
}

/**
 * Which Gram matrix a spectrum came from:
 * - `features`: FᵀF (D×D), used when N > D; projections are Vᵀ(Fᵀy) and, as hfselect's
 *   `truncated_svd` does, components whose singular value √λ is ≤ 1e-10 are dropped;
 * - `samples`: FFᵀ (N×N), used when N ≤ D (hfselect's thin SVD); projections are Uᵀy, all kept.
 */
export type GramKind = 'features' | 'samples';

/**
 * LogME score of F: the mean evidence over the label columns whose projections are in `spectrum`.
 *
 * Null directions of FᵀF need care to agree with hfselect. LAPACK returns their eigenvalues as
 * rounding noise of size ≈ ε·λmax, which survives hfselect's √λ > 1e-10 cut, so each still adds
 * log α to the log-determinant; a QL solver may return them as exact zeros instead. Eigenvalues at
 * or below the noise floor n·ε·λmax are therefore taken as σ = 0 with no projection (their xᵢ is
 * noise divided by noise) and kept exactly when the reference's noise would pass its cut.
 */
export function evidenceFromSpectrum(spectrum: Spectrum, yNormSq: readonly number[], n: number, d: number, gram: GramKind): number {
  const { values, projections } = spectrum;
  let lambdaMax = 0;
  for (const lambda of values) lambdaMax = Math.max(lambdaMax, Math.abs(lambda));
  const noiseFloor = values.length * EPS * lambdaMax;
  const nullDirectionsKept = Math.sqrt(EPS * lambdaMax) > SINGULAR_VALUE_CUTOFF;

  const sigma: number[] = [];
  const kept: number[] = [];
  values.forEach((lambda, i) => {
    const singular = Math.sqrt(Math.abs(lambda));
    if (gram === 'samples') {
      sigma.push(singular * singular);
      kept.push(i);
    } else if (Math.abs(lambda) > noiseFloor) {
      if (singular > SINGULAR_VALUE_CUTOFF) {
        sigma.push(singular * singular);
        kept.push(i);
      }
    } else if (nullDirectionsKept) {
      sigma.push(0);
      kept.push(-1);
    }
  });
  const sigmaArray = Float64Array.from(sigma);
  let total = 0;
  projections.forEach((p, column) => {
    // For FᵀF, xᵢ = uᵢᵀy = vᵢᵀFᵀy / sᵢ with sᵢ = √λᵢ; for FFᵀ, xᵢ = uᵢᵀy directly.
    const x2 = Float64Array.from(kept, (i, j) => {
      if (i < 0) return 0;
      return gram === 'features' ? (p[i] * p[i]) / sigmaArray[j] : p[i] * p[i];
    });
    total += fixedPointEvidence(sigmaArray, x2, yNormSq[column], n, d);
  });
  return total / projections.length;
}
