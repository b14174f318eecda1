import { EPS, type Matrix } from './matrix.js';

/** Eigenvalues of a symmetric matrix and the projections of some vectors onto its eigenvectors. */
export interface Spectrum {
  /** Eigenvalues λᵢ, unsorted. */
  readonly values: Float64Array;
  /** For each right-hand side r, the vector Vᵀr (component i belongs to λᵢ). */
  readonly projections: Float64Array[];
}

/**
 * Eigenvalues of the symmetric matrix A and the projections Vᵀr of the given vectors on its
 * eigenvectors, without ever forming V: LogME needs only these (You et al. 2021, Alg. 2), and
 * skipping V saves the O(n³) accumulation of the transformations.
 *
 * Householder tridiagonalisation A = Q T Qᵀ (Golub & Van Loan, Alg. 8.3.1), then implicit QL on T
 * (EISPACK tql2) where every Givens rotation is applied to Qᵀr instead of to an eigenvector matrix.
 * The full symmetric matrix is read; its contents are destroyed.
 */
export function symmetricSpectrum(a: Matrix, rhs: readonly Float64Array[]): Spectrum {
  const n = a.rows;
  if (a.cols !== n) throw new RangeError(`symmetricSpectrum needs a square matrix, got ${a.rows}×${a.cols}`);
  for (const r of rhs) if (r.length !== n) throw new RangeError(`right-hand side has length ${r.length}, expected ${n}`);
  const projections = rhs.map((r) => Float64Array.from(r));
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  tridiagonalize(a.data, n, d, e, projections);
  tridiagonalQL(d, e, projections);
  return { values: d, projections };
}

/**
 * Reduces the symmetric n×n matrix g (row-major, overwritten) to tridiagonal form: d receives the
 * diagonal, e the sub-diagonal (e[k] couples k and k+1, e[n-1] = 0). Each reflector Hₖ is applied to
 * the vectors in `rhs` as soon as it is known, so that they end as Qᵀr.
 */
export function tridiagonalize(g: Float64Array, n: number, d: Float64Array, e: Float64Array, rhs: Float64Array[]): void {
  const v = new Float64Array(n);
  const p = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    const row = k * n;
    const m0 = k + 1;
    const alpha = g[row + m0];
    let tail = 0;
    for (let i = m0 + 1; i < n; i++) tail += g[row + i] * g[row + i];
    if (tail === 0) {
      e[k] = alpha; // the column is already reduced: Hₖ = I
      continue;
    }
    // Hₖ = I − τ v vᵀ with v₀ = 1 maps x = A[k+1:, k] to β e₁ (Golub & Van Loan, Alg. 5.1.1).
    const norm = Math.sqrt(alpha * alpha + tail);
    const beta = alpha >= 0 ? -norm : norm;
    const tau = (beta - alpha) / beta;
    const scale = 1 / (alpha - beta);
    v[m0] = 1;
    for (let i = m0 + 1; i < n; i++) v[i] = g[row + i] * scale;
    e[k] = beta;

    // A₂₂ ← Hₖ A₂₂ Hₖ = A₂₂ − v wᵀ − w vᵀ with p = τ A₂₂ v, w = p − (τ/2)(pᵀv) v.
    let pv = 0;
    for (let i = m0; i < n; i++) {
      const base = i * n;
      let s = 0;
      for (let j = m0; j < n; j++) s += g[base + j] * v[j];
      p[i] = tau * s;
      pv += p[i] * v[i];
    }
    const half = 0.5 * tau * pv;
    for (let i = m0; i < n; i++) p[i] -= half * v[i];
    for (let i = m0; i < n; i++) {
      const base = i * n;
      const vi = v[i];
      const wi = p[i];
      for (let j = m0; j < n; j++) g[base + j] -= vi * p[j] + wi * v[j];
    }
    for (const r of rhs) {
      let dot = 0;
      for (let i = m0; i < n; i++) dot += v[i] * r[i];
      const f = tau * dot;
      for (let i = m0; i < n; i++) r[i] -= f * v[i];
    }
  }
  for (let i = 0; i < n; i++) d[i] = g[i * n + i];
  if (n >= 2) e[n - 2] = g[(n - 2) * n + n - 1];
  if (n >= 1) e[n - 1] = 0;
}

/**
 * Eigenvalues of the symmetric tridiagonal matrix (d, e) by the implicit QL method with Wilkinson
 * shifts (EISPACK tql2, as in JAMA). The rotations that would accumulate the eigenvectors are applied
 * to each vector in `rhs` (treated as a row of the eigenvector matrix), so Qᵀr ends as Vᵀr.
 * d is overwritten with the eigenvalues (unsorted), e is destroyed.
 */
export function tridiagonalQL(d: Float64Array, e: Float64Array, rhs: Float64Array[]): void {
  const n = d.length;
  let f = 0;
  let tst1 = 0;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n - 1 && Math.abs(e[m]) > EPS * tst1) m++;
    if (m > l) {
      let iterations = 0;
      do {
        if (++iterations > 60) throw new Error('tridiagonal QL did not converge');
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.sqrt(p * p + 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;

        p = d[m];
        let c = 1;
        let c2 = 1;
        let c3 = 1;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.sqrt(p * p + e[i] * e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          for (const w of rhs) {
            const wi1 = w[i + 1];
            w[i + 1] = s * w[i] + c * wi1;
            w[i] = c * w[i] - s * wi1;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > EPS * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
}
