import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { CsvError, parse } from 'csv-parse';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import { UserInputError } from '../errors.js';
import { jsonLines } from './jsonl.js';
import { readBytes, strictUtf8Or } from './utf8-files.js';

/**
 * Tabular dataset files read as a stream of rows, so every format shares one validation
 * (src/dataset/text-dataset.ts) and none is read into memory at once: CSV and TSV (csv-parse), JSON Lines
 * (line by line) and Parquet (hyparquet, one row group at a time; Hugging Face dataset exports).
 */
export const TABLE_FORMATS = ['csv', 'tsv', 'jsonl', 'parquet'] as const;
export type TableFormat = (typeof TABLE_FORMATS)[number];

/**
 * One data row: `row` counts data rows from 1 (a CSV header is not a row; a blank JSONL line is
 * skipped and not counted). Text values may still be raw bytes (`Uint8Array`): they are decoded,
 * strictly, by whoever knows the column, so a bad byte is reported with its row and column.
 */
export interface TableRow {
  readonly row: number;
  readonly values: Readonly<Record<string, unknown>>;
}

export interface Table {
  readonly path: string;
  readonly format: TableFormat;
  /** The columns, when the format declares them (CSV/TSV header, Parquet schema); JSONL has none. */
  readonly columns: readonly string[] | undefined;
  /** Streams the rows; `columns` limits what is read where the format allows (Parquet). */
  rows(columns: readonly string[]): AsyncIterable<TableRow>;
}

const EXTENSIONS: Record<string, TableFormat> = {
  '.csv': 'csv',
  '.tsv': 'tsv',
  '.tab': 'tsv',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.parquet': 'parquet',
  '.pq': 'parquet',
};

/** The format a file name's extension says, if it says one. */
export function tableFormatOf(name: string): TableFormat | undefined {
  return EXTENSIONS[extname(name).toLowerCase()];
}

function fail(path: string, problem: string): never {
  throw new UserInputError(`dataset: ${path}: ${problem}`, 'dataset');
}

/** Decodes UTF-8 strictly; a byte sequence that is not UTF-8 is the user's error, named by `where`. */
export function decodeUtf8(bytes: Uint8Array, path: string, where: string): string {
  return strictUtf8Or(bytes) ?? fail(path, `${where} is not valid UTF-8 (re-save the file as UTF-8)`);
}

export async function openTable(path: string, format?: TableFormat): Promise<Table> {
  const info = await stat(path).catch(() => null);
  if (!info) fail(path, 'does not exist');
  if (!info.isFile()) fail(path, 'is not a file');
  const kind = format ?? tableFormatOf(path);
  if (!kind) fail(path, `unknown format "${extname(path)}"; use .csv, .tsv, .jsonl or .parquet (or name the format)`);
  switch (kind) {
    case 'csv':
    case 'tsv':
      return openDelimited(path, kind);
    case 'jsonl':
      return { path, format: kind, columns: undefined, rows: () => jsonlRows(path) };
    case 'parquet':
      return openParquetFile(path);
  }
}

/**
 * CSV (RFC 4180: quoted fields may hold delimiters, quotes and newlines) or TSV (no quoting, as
 * GLUE-style TSV files and pandas' QUOTE_NONE write them), with a header row.
 */
async function openDelimited(path: string, format: 'csv' | 'tsv'): Promise<Table> {
  const dialect = format === 'csv' ? { delimiter: ',' } : { delimiter: '\t', quote: false as const };
  const records = async function* () {
    // Fields come as bytes (encoding: null) so each is decoded strictly where its row and column are known.
    const parser = (await readBytes(path)).pipe(parse({ ...dialect, encoding: null, skip_empty_lines: true, info: true }));
    try {
      for await (const { record } of parser as AsyncIterable<{ record: Buffer[] }>) yield record;
    } catch (error) {
      // csv-parse appends the offending field's bytes as JSON; the line number is what helps.
      if (error instanceof CsvError) fail(path, error.message.replace(/, value is .*$/s, ''));
      throw error;
    }
  };
  const first = records();
  const header = await first.next();
  await first.return(undefined);
  if (header.done) fail(path, 'is empty (a header row is needed)');
  const columns = header.value.map((bytes, i) => decodeUtf8(bytes, path, `header column ${i + 1}`));
  return {
    path,
    format,
    columns,
    rows: async function* () {
      let row = 0;
      for await (const record of records()) {
        if (row++ === 0) continue;
        yield { row: row - 1, values: Object.fromEntries(columns.map((name, i) => [name, record[i]])) };
      }
    },
  };
}

async function* jsonlRows(path: string): AsyncGenerator<TableRow> {
  let row = 0;
  for await (const { line, value } of jsonLines(path, (problem) => fail(path, problem))) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, `line ${line} is not a JSON object`);
    yield { row: ++row, values: value as Record<string, unknown> };
  }
}

/**
 * A Parquet file as a table; `name` is what messages call it (default its path), e.g. the Hub file
 * a cached copy stands for.
 */
export async function openParquetFile(path: string, name = path): Promise<Table> {
  const file = await asyncBufferFromFile(path);
  let metadata: Awaited<ReturnType<typeof parquetMetadataAsync>>;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (error) {
    fail(name, `is not a readable Parquet file (${(error as Error).message})`);
  }
  const columns = parquetSchema(metadata).children.map((child) => child.element.name);
  return {
    path: name,
    format: 'parquet',
    columns,
    rows: async function* (wanted) {
      let rowStart = 0;
      for (const group of metadata.row_groups) {
        const rowEnd = rowStart + Number(group.num_rows);
        // utf8: false keeps strings as bytes, for strict decoding with the row and column known.
        const rows = await parquetReadObjects({ file, metadata, columns: [...wanted], rowStart, rowEnd, utf8: false });
        for (let i = 0; i < rows.length; i++) yield { row: rowStart + i + 1, values: rows[i] };
        rowStart = rowEnd;
      }
    },
  };
}
