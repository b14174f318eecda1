/** A dense row-major float64 matrix. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
}

/** float64's machine epsilon (numpy's `finfo(float64).eps`, `Number.EPSILON`): the unit of the rank and convergence tolerances. */
export const EPS = 2 ** -52;

export function zeros(rows: number, cols: number): Matrix {
  return { rows, cols, data: new Float64Array(rows * cols) };
}

export function fromRows(rows: readonly (readonly number[])[]): Matrix {
  const r = rows.length;
  const c = r === 0 ? 0 : rows[0].length;
  const m = zeros(r, c);
  rows.forEach((row, i) => {
    if (row.length !== c) throw new RangeError(`row ${i} has ${row.length} values, expected ${c}`);
    m.data.set(row, i * c);
  });
  return m;
}

/** AᵀA (cols × cols), accumulated row by row so each row of A is read once and contiguously. */
export function crossProduct(a: Matrix): Matrix {
  const { rows, cols, data } = a;
  const out = zeros(cols, cols);
  const g = out.data;
  for (let i = 0; i < rows; i++) {
    const base = i * cols;
    for (let j = 0; j < cols; j++) {
      const aij = data[base + j];
      if (aij === 0) continue;
      const gRow = j * cols;
      for (let l = j; l < cols; l++) g[gRow + l] += aij * data[base + l];
    }
  }
  mirrorUpperToLower(out);
  return out;
}

/** AAᵀ (rows × rows). */
export function outerProduct(a: Matrix): Matrix {
  const { rows, cols, data } = a;
  const out = zeros(rows, rows);
  const g = out.data;
  for (let i = 0; i < rows; i++) {
    const bi = i * cols;
    for (let j = i; j < rows; j++) {
      const bj = j * cols;
      let s = 0;
      for (let k = 0; k < cols; k++) s += data[bi + k] * data[bj + k];
      g[i * rows + j] = s;
    }
  }
  mirrorUpperToLower(out);
  return out;
}

/** Aᵀv for a column vector v of length rows. */
export function transposeTimesVector(a: Matrix, v: Float64Array): Float64Array {
  const { rows, cols, data } = a;
  const out = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    const vi = v[i];
    if (vi === 0) continue;
    const base = i * cols;
    for (let j = 0; j < cols; j++) out[j] += vi * data[base + j];
  }
  return out;
}

export function mirrorUpperToLower(m: Matrix): void {
  const n = m.rows;
  const g = m.data;
  for (let j = 0; j < n; j++) for (let l = j + 1; l < n; l++) g[l * n + j] = g[j * n + l];
}
