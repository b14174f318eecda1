import { EPS, type Matrix } from './matrix.js';

/** G[perm][perm] ≈ RᵀR with R upper-trapezoidal, rank × m (row-major, zeros below the diagonal). */
export interface PivotedCholesky {
  readonly r: Float64Array;
  readonly rank: number;
  readonly perm: Int32Array;
}

/**
 * Cholesky factorisation with complete pivoting of a symmetric positive semi-definite matrix
 * (Higham, "Accuracy and Stability of Numerical Algorithms", §10.3; LAPACK dpstf2). It stops at the
 * numerical rank: when the largest remaining pivot is ≤ m·ε·max(diag(G)), LAPACK's default tolerance.
 */
export function pivotedCholesky(g: Matrix): PivotedCholesky {
  const m = g.rows;
  const a = Float64Array.from(g.data);
  const perm = Int32Array.from({ length: m }, (_, i) => i);
  let maxDiag = 0;
  for (let i = 0; i < m; i++) maxDiag = Math.max(maxDiag, a[i * m + i]);
  const tolerance = m * EPS * maxDiag;

  let rank = 0;
  for (let j = 0; j < m; j++) {
    let p = j;
    for (let i = j + 1; i < m; i++) if (a[i * m + i] > a[p * m + p]) p = i;
    if (!(a[p * m + p] > tolerance)) break;
    if (p !== j) swapSymmetric(a, m, j, p, perm);
    const pivot = Math.sqrt(a[j * m + j]);
    a[j * m + j] = pivot;
    for (let i = j + 1; i < m; i++) a[j * m + i] /= pivot;
    for (let i = j + 1; i < m; i++) {
      const rji = a[j * m + i];
      if (rji === 0) continue;
      const row = i * m;
      for (let k = i; k < m; k++) a[row + k] -= rji * a[j * m + k];
      for (let k = i + 1; k < m; k++) a[k * m + i] = a[row + k];
    }
    rank = j + 1;
  }
  const r = new Float64Array(rank * m);
  for (let i = 0; i < rank; i++) for (let k = i; k < m; k++) r[i * m + k] = a[i * m + k];
  return { r, rank, perm };
}

function swapSymmetric(a: Float64Array, m: number, j: number, p: number, perm: Int32Array): void {
  for (let k = 0; k < m; k++) {
    const t = a[j * m + k];
    a[j * m + k] = a[p * m + k];
    a[p * m + k] = t;
  }
  for (let k = 0; k < m; k++) {
    const t = a[k * m + j];
    a[k * m + j] = a[k * m + p];
    a[k * m + p] = t;
  }
  const t = perm[j];
  perm[j] = perm[p];
  perm[p] = t;
}
