import { UserInputError } from '../errors.js';

export type TaskType = 'classification' | 'regression';
export type ClassLabel = string | number | boolean;

/** Class labels mapped to codes 0..C-1; `classes[code]` is the user's label. */
export interface ClassificationLabels {
  readonly task: 'classification';
  readonly n: number;
  readonly classes: readonly ClassLabel[];
  readonly codes: Int32Array;
}

/** Regression targets, n × targets, row-major. */
export interface RegressionLabels {
  readonly task: 'regression';
  readonly n: number;
  readonly targets: number;
  readonly values: Float64Array;
}

export type Labels = ClassificationLabels | RegressionLabels;

/** The kind of a class label; all labels of a dataset must share one. */
export function labelKind(value: unknown): 'number' | 'string' | 'boolean' | 'other' {
  const t = typeof value;
  return t === 'number' || t === 'string' || t === 'boolean' ? t : 'other';
}

function compareClassLabels(a: ClassLabel, b: ClassLabel): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Maps arbitrary class labels to codes 0..C-1. The order is documented and stable: numbers ascending,
 * strings in JavaScript's string order (UTF-16 code units), booleans false before true. All labels must
 * be of one kind, and at least two classes must be present.
 */
export function encodeClassLabels(raw: readonly unknown[]): ClassificationLabels {
  if (raw.length === 0) throw new UserInputError('labels: the label list is empty');
  const firstKind = labelKind(raw[0]);
  raw.forEach((value, row) => {
    const kind = labelKind(value);
    if (kind === 'other') {
      throw new UserInputError(`labels: row ${row} has a label of type ${value === null ? 'null' : typeof value}; use numbers, strings or booleans`);
    }
    if (kind === 'number' && !Number.isFinite(value)) throw new UserInputError(`labels: row ${row} is not a finite number`);
    if (kind !== firstKind) {
      throw new UserInputError(`labels: mixed label types (row 0 is a ${firstKind}, row ${row} is a ${kind})`);
    }
  });
  const classes = [...new Set(raw as ClassLabel[])].sort(compareClassLabels);
  if (classes.length < 2) {
    throw new UserInputError(`labels: only one class (${JSON.stringify(classes[0])}) is present; LogME needs at least two`);
  }
  const index = new Map<ClassLabel, number>(classes.map((c, i) => [c, i]));
  const codes = Int32Array.from(raw as ClassLabel[], (v) => index.get(v)!);
  return { task: 'classification', n: raw.length, classes, codes };
}

/** Regression targets: each label a number, or an array of K numbers (the same K for every row). */
export function encodeRegressionTargets(raw: readonly unknown[]): RegressionLabels {
  if (raw.length === 0) throw new UserInputError('labels: the label list is empty');
  const targets = Array.isArray(raw[0]) ? raw[0].length : 1;
  if (targets === 0) throw new UserInputError('labels: row 0 has no regression targets');
  const values = new Float64Array(raw.length * targets);
  raw.forEach((value, row) => {
    const items = Array.isArray(value) ? value : [value];
    if (Array.isArray(value) !== Array.isArray(raw[0]) || items.length !== targets) {
      throw new UserInputError(`labels: row ${row} has ${items.length} targets, expected ${targets}`);
    }
    items.forEach((x, k) => {
      if (typeof x !== 'number' || !Number.isFinite(x)) {
        throw new UserInputError(`labels: row ${row}${targets > 1 ? `, target ${k}` : ''} is not a finite number`);
      }
      values[row * targets + k] = x;
    });
  });
  return { task: 'regression', n: raw.length, targets, values };
}

export function encodeLabels(raw: readonly unknown[], task: TaskType): Labels {
  return task === 'regression' ? encodeRegressionTargets(raw) : encodeClassLabels(raw);
}

/**
 * The columns LogME fits one at a time: one-vs-rest indicators per class (classification), or each
 * regression target.
 */
export function labelColumns(labels: Labels): Float64Array[] {
  if (labels.task === 'classification') {
    return labels.classes.map((_, c) => Float64Array.from(labels.codes, (code) => (code === c ? 1 : 0)));
  }
  const { n, targets, values } = labels;
  return Array.from({ length: targets }, (_, k) => Float64Array.from({ length: n }, (_, i) => values[i * targets + k]));
}

export function columnCount(labels: Labels): number {
  return labels.task === 'classification' ? labels.classes.length : labels.targets;
}
