import { UserInputError } from '../errors.js';
import { isHubDataset } from '../hub/dataset-uri.js';
import type { HubDatasetOptions, HubDatasetSource } from '../hub/parquet-dataset.js';
import { decodeUtf8, openTable, type Table, type TableFormat, type TableRow } from '../io/tables.js';
import { type ClassLabel, labelKind, type TaskType } from '../task/labels.js';
import { Reservoir } from './sampling.js';

/** hfselect joins several text columns with this (dataset.py TEXT_SEPARATOR). */
export const TEXT_SEPARATOR = ' [SEP] ';
/** The seed used for `numExamples` sampling when none is given. */
export const DEFAULT_SEED = 0;

export interface DatasetOptions {
  /** One text column, or several joined with " [SEP] " in the order given. */
  readonly textColumns: string | readonly string[];
  readonly labelColumn: string;
  readonly task?: TaskType;
  /**
   * Sample this many rows, uniformly, with `seed` (reservoir sampling: bounded memory for any file
   * size). Reproducible for a seed, but not the order of hfselect's Hugging Face `shuffle(seed)`.
   */
  readonly numExamples?: number;
  readonly seed?: number;
  /** Default: from the file extension. */
  readonly format?: TableFormat;
  /** A Hub dataset's subset (its "config") and split; see `openHubDataset` for the defaults. */
  readonly subset?: string;
  readonly split?: string;
  /** How a Hub dataset is read: the conversion's commit to pin, the cache's data dir, download progress. */
  readonly hub?: Omit<HubDatasetOptions, 'subset' | 'split'>;
}

/** A labelled text dataset ready to embed, in file order. */
export interface TextDataset {
  readonly path: string;
  readonly task: TaskType;
  readonly texts: string[];
  readonly labels: ClassLabel[];
  /** The file's data row (from 1) of each example. */
  readonly rows: number[];
  /** Data rows in the file. */
  readonly rowsRead: number;
  /** Classification rows labelled -1 and skipped, as hfselect skips them (Hugging Face's "no label"). */
  readonly unlabelled: number;
  /** For a Hub dataset: the subset, split and commit read (pass `revision` to read the same again). */
  readonly hub?: HubDatasetSource;
}

interface Example {
  readonly row: number;
  readonly text: string;
  readonly label: ClassLabel;
}

/** The table a dataset argument names: a local file, or a Hub dataset's split (`hf://datasets/ORG/NAME`). */
async function openDataset(path: string, options: DatasetOptions): Promise<{ table: Table; hub?: HubDatasetSource }> {
  if (isHubDataset(path)) {
    if (options.format !== undefined && options.format !== 'parquet')
      throw new UserInputError(`format: ${path} is read as Parquet (the Hub's conversion), not ${options.format}`, 'format');
    // Loaded on use: reading local files never loads the Hub client.
    const { openHubDataset } = await import('../hub/parquet-dataset.js');
    const { table, source } = await openHubDataset(path, { ...options.hub, subset: options.subset, split: options.split });
    return { table, hub: source };
  }
  const given = options.subset !== undefined ? 'subset' : options.split !== undefined ? 'split' : undefined;
  if (given) throw new UserInputError(`${given}: goes with a Hub dataset (hf://datasets/ORG/NAME), not the file ${path}`, given);
  return { table: await openTable(path, options.format) };
}

/**
 * Reads a labelled text dataset from CSV, TSV, JSONL or Parquet, or from a Hub dataset's Parquet
 * conversion (`hf://datasets/ORG/NAME`, cached), streaming, with every problem a
 * `UserInputError` naming the row and column: a missing column, an empty text, a missing or
 * non-numeric (regression) label, mixed label types, bytes that are not UTF-8, a single class.
 */
export async function readTextDataset(path: string, options: DatasetOptions): Promise<TextDataset> {
  const textColumns = typeof options.textColumns === 'string' ? [options.textColumns] : [...options.textColumns];
  const { labelColumn } = options;
  const task = options.task ?? 'classification';
  if (textColumns.length === 0) throw new UserInputError('text column: at least one is needed', 'text_column');
  if (options.numExamples !== undefined && !(Number.isSafeInteger(options.numExamples) && options.numExamples > 0)) {
    throw new UserInputError('num examples: must be a positive integer', 'num_examples');
  }
  const { table, hub } = await openDataset(path, options);
  const wanted = [...new Set([...textColumns, labelColumn])];
  const missing = table.columns && wanted.filter((c) => !table.columns!.includes(c));
  if (missing?.length) fail(table, `no column ${missing.map((c) => `"${c}"`).join(', ')} (the columns are ${table.columns!.map((c) => `"${c}"`).join(', ')})`);

  const reservoir = new Reservoir<Example>(options.numExamples ?? Infinity, options.seed ?? DEFAULT_SEED);
  const labels = new LabelReader(table, labelColumn, task);
  let rowsRead = 0;
  let unlabelled = 0;
  for await (const row of table.rows(wanted)) {
    rowsRead++;
    const label = labels.read(row);
    if (label === undefined) {
      unlabelled++;
      continue;
    }
    reservoir.offer({ row: row.row, text: textColumns.map((c) => readText(table, row, c)).join(TEXT_SEPARATOR), label });
  }
  if (rowsRead === 0) fail(table, 'has no data rows');
  if (reservoir.offered === 0) fail(table, `every row is labelled -1 in column "${labelColumn}" (unlabelled, as Hugging Face marks them)`);
  const examples = reservoir.sample();
  const dataset: TextDataset = {
    path,
    task,
    texts: examples.map((e) => e.text),
    labels: labels.finish(examples.map((e) => e.label)),
    rows: examples.map((e) => e.row),
    rowsRead,
    unlabelled,
    ...(hub && { hub }),
  };
  if (task === 'classification') requireTwoClasses(table, labelColumn, dataset.labels);
  return dataset;
}

function fail(table: Table, problem: string): never {
  throw new UserInputError(`dataset: ${table.path}: ${problem}`, 'dataset');
}

function cell(table: Table, row: TableRow, column: string): unknown {
  if (!(column in row.values)) fail(table, `row ${row.row} has no column "${column}"`);
  return row.values[column];
}

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'a list' : `a ${typeof value}`;
}

function readText(table: Table, row: TableRow, column: string): string {
  const where = `row ${row.row}, column "${column}"`;
  let value = cell(table, row, column);
  if (value instanceof Uint8Array) value = decodeUtf8(value, table.path, where);
  if (value === null || value === undefined) fail(table, `${where}: the text is missing`);
  if (typeof value !== 'string') fail(table, `${where}: expected text, got ${describe(value)}`);
  if (value.trim() === '') fail(table, `${where}: the text is empty`);
  return value;
}

/**
 * Labels as the task needs them. Text formats (CSV/TSV) carry no types: their class labels stay
 * strings unless every one is a number, and regression targets must parse as numbers. Typed formats
 * (JSONL, Parquet) must use one label type throughout.
 */
class LabelReader {
  private first: { row: number; kind: string } | undefined;
  private readonly untyped: boolean;

  constructor(
    private readonly table: Table,
    private readonly column: string,
    private readonly task: TaskType,
  ) {
    this.untyped = table.format === 'csv' || table.format === 'tsv';
  }

  /** The row's label, or undefined for a classification row labelled -1. */
  read(row: TableRow): ClassLabel | undefined {
    const where = `row ${row.row}, column "${this.column}"`;
    let value = cell(this.table, row, this.column);
    if (value instanceof Uint8Array) value = decodeUtf8(value, this.table.path, where);
    if (typeof value === 'bigint') value = Number(value);
    if (value === null || value === undefined || (typeof value === 'string' && value.trim() === '')) fail(this.table, `${where}: the label is missing`);
    if (this.task === 'regression') {
      const number = this.untyped ? Number(value) : value;
      if (typeof number !== 'number' || !Number.isFinite(number)) fail(this.table, `${where}: regression needs a finite number, got ${JSON.stringify(value)}`);
      return number;
    }
    if (value === -1 || (this.untyped && typeof value === 'string' && value.trim() === '-1')) return undefined;
    const kind = labelKind(value);
    if (kind === 'other') fail(this.table, `${where}: a label must be a string, number or boolean, got ${describe(value)}`);
    if (kind === 'number' && !Number.isFinite(value)) fail(this.table, `${where}: the label is not a finite number`);
    this.first ??= { row: row.row, kind };
    if (kind !== this.first.kind) fail(this.table, `${where}: mixed label types (row ${this.first.row} has a ${this.first.kind}, this row a ${kind})`);
    return value as ClassLabel;
  }

  finish(labels: ClassLabel[]): ClassLabel[] {
    if (!this.untyped || this.task === 'regression') return labels;
    const numbers = labels.map((label) => Number(label));
    return numbers.every((n, i) => Number.isFinite(n) && String(labels[i]).trim() !== '') ? numbers : labels;
  }
}

function requireTwoClasses(table: Table, column: string, labels: readonly ClassLabel[]): void {
  const classes = new Set(labels);
  if (classes.size < 2) {
    fail(table, `column "${column}" has only one class (${JSON.stringify(labels[0])}) among the ${labels.length} examples; LogME needs at least two`);
  }
}
