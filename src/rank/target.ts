import { UserInputError } from '../errors.js';
import { firstNonFinite } from '../esm/esm.js';
import type { Embeddings } from '../io/embeddings.js';
import { type PivotedCholesky, pivotedCholesky } from '../linalg/cholesky.js';
import { mirrorUpperToLower, zeros } from '../linalg/matrix.js';
import { squaredNorm } from '../logme/logme.js';
import { type Labels, labelColumns } from '../task/labels.js';

/**
 * What every ESM-LogME evaluation of one target shares, computed once.
 *
 * With X̃ = [X, 1] (N × (D+1)) and W̃ = [W, b], the ESM features are F = X̃W̃ᵀ, so
 *   FᵀF = W̃ (X̃ᵀX̃) W̃ᵀ = (R P W̃ᵀ)ᵀ (R P W̃ᵀ)  where PᵀRᵀRP = X̃ᵀX̃ (pivoted Cholesky),
 *   Fᵀy = W̃ (X̃ᵀy).
 * Each ESM then costs one (D+1)×D product and a D×D eigenproblem, whatever N is.
 */
export interface PreparedTarget {
  readonly embeddings: Embeddings;
  readonly labels: Labels;
  /** The LogME label columns (one-vs-rest indicators or regression targets) and their ‖y‖². */
  readonly columns: Float64Array[];
  readonly columnNormsSq: number[];
  /** Present when N > D, the case where LogME works on FᵀF. */
  readonly gram: TargetGram | null;
}

/** The pivoted Cholesky factor of X̃ᵀX̃, and X̃ᵀy for every label column. */
export interface TargetGram {
  readonly factor: PivotedCholesky;
  readonly xty: Float64Array[];
}

/** Computes the TargetGram of the embeddings for the label columns (in TypeScript, or natively). */
export type GramFactorization = (embeddings: Embeddings, columns: readonly Float64Array[]) => Promise<TargetGram>;

export function validateTarget(embeddings: Embeddings, labels: Labels): void {
  const { rows, dim, data } = embeddings;
  if (rows === 0) throw new UserInputError('embeddings: the target has no rows', 'embeddings');
  if (data.length !== rows * dim) throw new UserInputError(`embeddings: ${data.length} values do not make ${rows}×${dim}`, 'embeddings');
  if (labels.n !== rows) throw new UserInputError(`labels: ${labels.n} labels for ${rows} embedding rows`, 'labels');
  const bad = firstNonFinite(data, dim);
  if (bad) throw new UserInputError(`embeddings: row ${bad.row}, column ${bad.col} is not a finite number`, 'embeddings');
}

/** X̃ᵀX̃ for X̃ = [X, 1], accumulated in float64. */
function augmentedGram({ rows, dim, data }: Embeddings): Float64Array {
  const m = dim + 1;
  const gram = zeros(m, m);
  const g = gram.data;
  const row = new Float64Array(m);
  row[dim] = 1;
  for (let i = 0; i < rows; i++) {
    for (let k = 0; k < dim; k++) row[k] = data[i * dim + k];
    for (let j = 0; j < m; j++) {
      const v = row[j];
      if (v === 0) continue;
      const base = j * m;
      for (let k = j; k < m; k++) g[base + k] += v * row[k];
    }
  }
  mirrorUpperToLower(gram);
  return g;
}

function augmentedTransposeTimes({ rows, dim, data }: Embeddings, y: Float64Array): Float64Array {
  const out = new Float64Array(dim + 1);
  for (let i = 0; i < rows; i++) {
    const yi = y[i];
    if (yi === 0) continue;
    for (let k = 0; k < dim; k++) out[k] += data[i * dim + k] * yi;
    out[dim] += yi;
  }
  return out;
}

export function typescriptGram(embeddings: Embeddings, columns: readonly Float64Array[]): TargetGram {
  const m = embeddings.dim + 1;
  return {
    factor: pivotedCholesky({ rows: m, cols: m, data: augmentedGram(embeddings) }),
    xty: columns.map((y) => augmentedTransposeTimes(embeddings, y)),
  };
}

/** The validated target with its label columns; the Gram factorisation is left to the caller. */
function targetColumns(embeddings: Embeddings, labels: Labels): PreparedTarget {
  validateTarget(embeddings, labels);
  const columns = labelColumns(labels);
  return { embeddings, labels, columns, columnNormsSq: columns.map(squaredNorm), gram: null };
}

const needsGram = ({ rows, dim }: Embeddings): boolean => rows > dim;

export function prepareTarget(embeddings: Embeddings, labels: Labels): PreparedTarget {
  const target = targetColumns(embeddings, labels);
  return needsGram(embeddings) ? { ...target, gram: typescriptGram(embeddings, target.columns) } : target;
}

/** prepareTarget with the Gram factorisation done elsewhere (the native addon, off the event loop). */
export async function prepareTargetWith(embeddings: Embeddings, labels: Labels, factorize: GramFactorization): Promise<PreparedTarget> {
  const target = targetColumns(embeddings, labels);
  return needsGram(embeddings) ? { ...target, gram: await factorize(embeddings, target.columns) } : target;
}
