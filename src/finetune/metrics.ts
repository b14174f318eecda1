/** Evaluation metrics, as scikit-learn and SciPy define them, in float64. */

export interface ClassificationMetrics {
  readonly accuracy: number;
  readonly macroF1: number;
}

export interface RegressionMetrics {
  /** Mean over the regression targets. */
  readonly pearson: number;
  readonly spearman: number;
  readonly mse: number;
}

/** How a fine-tuned model did on held-out data (a classification or a regression task). */
export type EvaluationMetrics = ClassificationMetrics | RegressionMetrics;

export function accuracy(predicted: ArrayLike<number>, actual: ArrayLike<number>): number {
  let correct = 0;
  for (let i = 0; i < actual.length; i++) if (predicted[i] === actual[i]) correct++;
  return correct / actual.length;
}

/**
 * sklearn's `f1_score(average='macro')`: the unweighted mean over the classes present in either
 * the predictions or the labels of F1 = 2·TP / (2·TP + FP + FN), a class without any being 0.
 */
export function macroF1(predicted: ArrayLike<number>, actual: ArrayLike<number>): number {
  const counts = new Map<number, { tp: number; fp: number; fn: number }>();
  const entry = (c: number) => {
    let e = counts.get(c);
    if (!e) counts.set(c, (e = { tp: 0, fp: 0, fn: 0 }));
    return e;
  };
  for (let i = 0; i < actual.length; i++) {
    if (predicted[i] === actual[i]) entry(actual[i]).tp++;
    else {
      entry(predicted[i]).fp++;
      entry(actual[i]).fn++;
    }
  }
  let sum = 0;
  for (const { tp, fp, fn } of counts.values()) sum += tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
  return sum / counts.size;
}

function isConstant(values: ArrayLike<number>): boolean {
  for (let i = 1; i < values.length; i++) if (values[i] !== values[0]) return false;
  return true;
}

/**
 * Pearson's r = Σ(x − x̄)(y − ȳ) / √(Σ(x − x̄)² Σ(y − ȳ)²); NaN when either is constant, as SciPy
 * gives. Constancy is tested on the values, since a rounded mean leaves a constant with Σ(x − x̄)² ≠ 0.
 */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (isConstant(x) || isConstant(y)) return NaN;
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i] / n;
    my += y[i] / n;
  }
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

/** 1-based ranks, ties given their average rank (scipy.stats.rankdata's default). */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const order = Array.from({ length: values.length }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Float64Array(values.length);
  for (let start = 0; start < order.length; ) {
    let end = start + 1;
    while (end < order.length && values[order[end]] === values[order[start]]) end++;
    for (let k = start; k < end; k++) ranks[order[k]] = (start + end + 1) / 2;
    start = end;
  }
  return ranks;
}

/** Spearman's ρ: Pearson's r of the average ranks (scipy.stats.spearmanr). */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  return pearson(averageRanks(x), averageRanks(y));
}

export function classificationMetrics(predicted: ArrayLike<number>, actual: ArrayLike<number>): ClassificationMetrics {
  return { accuracy: accuracy(predicted, actual), macroF1: macroF1(predicted, actual) };
}

/** Per-target Pearson and Spearman averaged over the `targets` columns of row-major [n, targets] values, and the MSE. */
export function regressionMetrics(predicted: ArrayLike<number>, actual: ArrayLike<number>, targets: number): RegressionMetrics {
  const n = actual.length / targets;
  const column = (values: ArrayLike<number>, k: number) => Float64Array.from({ length: n }, (_, i) => values[i * targets + k]);
  let r = 0;
  let rho = 0;
  for (let k = 0; k < targets; k++) {
    r += pearson(column(predicted, k), column(actual, k)) / targets;
    rho += spearman(column(predicted, k), column(actual, k)) / targets;
  }
  let mse = 0;
  for (let i = 0; i < actual.length; i++) mse += (predicted[i] - actual[i]) ** 2 / actual.length;
  return { pearson: r, spearman: rho, mse };
}
