import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { UserInputError } from '../errors.js';
import type { LabelledTexts, TextTask } from '../finetune/data.js';
import type { TaskType } from '../logme/labels.js';

/** hfselect joins several text columns with this (dataset.py TEXT_SEPARATOR). */
const TEXT_SEPARATOR = ' [SEP] ';

export interface TaskFileOptions {
  readonly textColumns: readonly string[];
  readonly labelColumn: string;
  readonly task: TaskType;
  /** Names the flag in messages (`--source`, `--target`). */
  readonly flag: string;
}

/**
 * Reads labelled texts from a JSON Lines file, one object per line. A stopgap until the dataset
 * readers of src/io (CSV, TSV, JSONL, Parquet) are on this branch; the finetune command then reads
 * through them and this file goes.
 */
export async function readJsonlTexts(path: string, options: TaskFileOptions): Promise<LabelledTexts> {
  const { flag } = options;
  if (!(await stat(path).catch(() => null))?.isFile()) {
    throw new UserInputError(`${flag}: ${path} is not a file (dataset ids from the registry are not supported by this build yet)`, flag.replace(/^-+/, ''));
  }
  if (!/\.(jsonl|ndjson)$/i.test(path)) throw new UserInputError(`${flag}: ${path}: only JSON Lines (.jsonl) datasets can be read for fine-tuning so far`, flag.replace(/^-+/, ''));
  const texts: string[] = [];
  const labels: unknown[] = [];
  const lines = (await readFile(path, 'utf8')).split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${flag}: ${path}: line ${i + 1}`;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      throw new UserInputError(`${where} is not valid JSON`, flag);
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new UserInputError(`${where} is not a JSON object`, flag);
    const record = row as Record<string, unknown>;
    const parts = options.textColumns.map((column) => {
      const value = record[column];
      if (typeof value !== 'string') throw new UserInputError(`${where}: column "${column}" ${value === undefined ? 'is missing' : 'is not a string'}`, flag);
      return value;
    });
    if (!(options.labelColumn in record)) throw new UserInputError(`${where}: column "${options.labelColumn}" is missing`, flag);
    const label = record[options.labelColumn];
    // Hugging Face marks unlabelled classification rows with -1; hfselect skips them.
    if (options.task === 'classification' && label === -1) return;
    texts.push(parts.join(TEXT_SEPARATOR));
    labels.push(label);
  });
  if (texts.length === 0) throw new UserInputError(`${flag}: ${path} has no labelled rows`, flag);
  return { texts, labels };
}

/** A TextTask from a dataset file; its id is the file's name without the extension. */
export async function readTaskFile(path: string, options: TaskFileOptions): Promise<TextTask> {
  const { texts, labels } = await readJsonlTexts(path, options);
  return {
    id: basename(path).replace(/\.[^.]+$/, ''),
    task: options.task,
    texts,
    labels,
    textColumn: options.textColumns.length === 1 ? options.textColumns[0] : [...options.textColumns],
    labelColumn: options.labelColumn,
  };
}
