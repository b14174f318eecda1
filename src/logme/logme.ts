import { UserInputError } from '../errors.js';
import { crossProduct, type Matrix, outerProduct, transposeTimesVector } from '../linalg/matrix.js';
import { symmetricSpectrum } from '../linalg/spectrum.js';
import { type Labels, labelColumns } from '../task/labels.js';
import { evidenceFromSpectrum } from './evidence.js';

export function squaredNorm(v: Float64Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return s;
}

/**
 * LogME score of the features F (N×D, float64) for the labels: the mean over one-vs-rest classes
 * (or regression targets) of the maximised log evidence per sample. Follows hfselect's
 * `LogME.fit(F, y, add_intercept=False)`: for N > D the spectrum of FᵀF (its `truncated_svd`),
 * otherwise the spectrum of FFᵀ (its thin SVD of F).
 */
export function logme(features: Matrix, labels: Labels): number {
  const { rows: n, cols: d } = features;
  if (labels.n !== n) throw new UserInputError(`labels: ${labels.n} labels for ${n} feature rows`, 'labels');
  const columns = labelColumns(labels);
  const norms = columns.map(squaredNorm);
  if (n > d) {
    const rhs = columns.map((y) => transposeTimesVector(features, y));
    return evidenceFromSpectrum(symmetricSpectrum(crossProduct(features), rhs), norms, n, d, 'features');
  }
  return evidenceFromSpectrum(symmetricSpectrum(outerProduct(features), columns), norms, n, d, 'samples');
}
