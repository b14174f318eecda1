import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { UserInputError } from '../errors.js';
import type { TaskType } from '../task/labels.js';
import { writeFileAtomic } from './atomic.js';
import type { Embeddings } from './embeddings.js';
import { jsonLines } from './jsonl.js';

/**
 * Embedding files the CLI and library read and write:
 * - raw little-endian float32, row-major (`.f32`/`.bin`), with a sidecar JSON giving the shape:
 *   `<file>.json` or `meta.json` beside it, holding `n` and `d` (or `shape: [n, d]`, or
 *   `embeddings.shape`), the reference harness's layout;
 * - a harness target directory (`meta.json`, `embeddings.f32`, `labels.json`), which also carries
 *   the labels and the task type;
 * - NumPy `.npy` (float32 or float64, C order, 2-D; float64 is rounded to float32);
 * - JSON Lines (`.jsonl`): one array of numbers per line, or one object with an `embedding` array and
 *   optionally a `label`.
 */
export interface EmbeddingFile {
  readonly embeddings: Embeddings;
  /** Labels carried by the file itself (harness directory, JSONL objects). */
  readonly labels?: unknown[];
  readonly task?: TaskType;
  /** Free-form provenance stored beside the vectors (model, pooling, …). */
  readonly meta?: Record<string, unknown>;
}

const FIELD = 'embeddings';

function fail(path: string, problem: string): never {
  throw new UserInputError(`embeddings: ${path}: ${problem}`, FIELD);
}

function toFloat32(path: string, bytes: Buffer, rows: number, dim: number): Float32Array {
  if (bytes.byteLength !== rows * dim * 4) fail(path, `${bytes.byteLength} bytes, but ${rows}×${dim} float32 values need ${rows * dim * 4}`);
  const out = new Float32Array(rows * dim);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    fail(path, error instanceof SyntaxError ? 'is not valid JSON' : `cannot be read (${(error as NodeJS.ErrnoException).code})`);
  }
}

interface ShapeMeta {
  n?: number;
  d?: number;
  shape?: number[];
  embeddings?: { file?: string; shape?: number[] };
  labels?: { file?: string };
  regression?: boolean;
  [key: string]: unknown;
}

function shapeOf(path: string, meta: ShapeMeta): [number, number] {
  const shape = meta.embeddings?.shape ?? meta.shape ?? [meta.n, meta.d];
  const [n, d] = shape;
  if (!Number.isSafeInteger(n) || !Number.isSafeInteger(d) || n! <= 0 || d! <= 0) fail(path, 'the sidecar JSON gives no positive n and d');
  return [n!, d!];
}

async function readHarnessDirectory(dir: string): Promise<EmbeddingFile> {
  const metaPath = join(dir, 'meta.json');
  const meta = (await readJson(metaPath)) as ShapeMeta;
  const [rows, dim] = shapeOf(metaPath, meta);
  const file = join(dir, meta.embeddings?.file ?? 'embeddings.f32');
  const data = toFloat32(file, await readFile(file), rows, dim);
  const labelsPath = join(dir, meta.labels?.file ?? 'labels.json');
  const labels = await stat(labelsPath).then(
    async () => (await readJson(labelsPath)) as unknown[],
    () => undefined,
  );
  return { embeddings: { rows, dim, data }, labels, task: meta.regression ? 'regression' : 'classification', meta };
}

async function readRaw(path: string): Promise<EmbeddingFile> {
  const candidates = [`${path}.json`, join(dirname(path), 'meta.json')];
  for (const sidecar of candidates) {
    if (await stat(sidecar).catch(() => null)) {
      const meta = (await readJson(sidecar)) as ShapeMeta;
      const [rows, dim] = shapeOf(sidecar, meta);
      return { embeddings: { rows, dim, data: toFloat32(path, await readFile(path), rows, dim) }, meta };
    }
  }
  fail(path, `raw float32 needs a sidecar ${basename(path)}.json or meta.json with n and d`);
}

/** NumPy format 1.0–3.0: magic, version, little-endian header length, a Python dict literal header. */
async function readNpy(path: string): Promise<EmbeddingFile> {
  const bytes = await readFile(path);
  if (bytes.byteLength < 10 || bytes.toString('latin1', 0, 6) !== '\x93NUMPY') fail(path, 'not a .npy file');
  const major = bytes[6];
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = bytes.toString(major === 3 ? 'utf8' : 'latin1', start, start + headerLength);
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  const dims =
    shape
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map(Number) ?? [];
  if (dims.length !== 2) fail(path, `expected a 2-D array, got shape (${shape ?? '?'})`);
  if (fortran !== 'False') fail(path, 'Fortran-ordered arrays are not supported; save with np.ascontiguousarray');
  const [rows, dim] = dims;
  const body = bytes.subarray(start + headerLength);
  if (descr === '<f4') return { embeddings: { rows, dim, data: toFloat32(path, body, rows, dim) } };
  if (descr === '<f8') {
    if (body.byteLength !== rows * dim * 8) fail(path, `${body.byteLength} bytes of data, expected ${rows * dim * 8}`);
    const wide = new Float64Array(rows * dim);
    new Uint8Array(wide.buffer).set(body);
    return { embeddings: { rows, dim, data: Float32Array.from(wide) } };
  }
  fail(path, `unsupported dtype ${descr ?? '?'} (use float32 '<f4' or float64 '<f8')`);
}

async function readJsonl(path: string): Promise<EmbeddingFile> {
  const vectors: number[][] = [];
  const labels: unknown[] = [];
  for await (const { line: lineNumber, value } of jsonLines(path, (problem) => fail(path, problem))) {
    const record = value as { embedding?: unknown; label?: unknown };
    const vector = Array.isArray(value) ? value : record?.embedding;
    if (!Array.isArray(vector) || !vector.every((x) => typeof x === 'number')) {
      fail(path, `line ${lineNumber} is neither an array of numbers nor an object with an "embedding" array`);
    }
    if (vectors.length > 0 && vector.length !== vectors[0].length) {
      fail(path, `line ${lineNumber} has ${vector.length} values, the first line has ${vectors[0].length}`);
    }
    if (!Array.isArray(value) && 'label' in record) labels.push(record.label);
    vectors.push(vector);
  }
  if (vectors.length === 0) fail(path, 'has no vectors');
  if (labels.length !== 0 && labels.length !== vectors.length) fail(path, 'some lines have a "label" and some do not');
  const dim = vectors[0].length;
  const data = new Float32Array(vectors.length * dim);
  vectors.forEach((v, i) => data.set(v, i * dim));
  return { embeddings: { rows: vectors.length, dim, data }, labels: labels.length ? labels : undefined };
}

export async function readEmbeddingFile(path: string): Promise<EmbeddingFile> {
  const info = await stat(path).catch(() => null);
  if (!info) fail(path, 'does not exist');
  if (info.isDirectory()) return readHarnessDirectory(path);
  switch (extname(path).toLowerCase()) {
    case '.npy':
      return readNpy(path);
    case '.jsonl':
    case '.ndjson':
      return readJsonl(path);
    case '.f32':
    case '.bin':
      return readRaw(path);
    default:
      fail(path, 'unknown format; use .f32/.bin (with a sidecar JSON), .npy, .jsonl or a harness target directory');
  }
}

function npyBytes({ rows, dim, data }: Embeddings): Uint8Array {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${dim}), }`;
  // The magic (6), version (2), length (2), header and its newline are padded to a multiple of 64.
  header += `${' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64)}\n`;
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(Buffer.from('\x93NUMPY\x01\x00', 'latin1'));
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(Buffer.from(header, 'latin1'), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

/**
 * Writes embeddings in the format the extension names (`.npy`, `.jsonl`, or raw `.f32`/`.bin` with a
 * `<file>.json` sidecar that also records `meta`), atomically.
 */
export async function writeEmbeddingFile(path: string, embeddings: Embeddings, meta: Record<string, unknown> = {}, labels?: readonly unknown[]): Promise<void> {
  const { rows, dim, data } = embeddings;
  switch (extname(path).toLowerCase()) {
    case '.npy':
      await writeFileAtomic(path, npyBytes(embeddings));
      await writeFileAtomic(`${path}.json`, `${JSON.stringify({ n: rows, d: dim, ...meta }, null, 2)}\n`);
      return;
    case '.jsonl':
    case '.ndjson': {
      const lines: string[] = [];
      for (let i = 0; i < rows; i++) {
        const embedding = Array.from(data.subarray(i * dim, (i + 1) * dim));
        lines.push(JSON.stringify(labels ? { embedding, label: labels[i] } : embedding));
      }
      await writeFileAtomic(path, `${lines.join('\n')}\n`);
      return;
    }
    case '.f32':
    case '.bin':
      await writeFileAtomic(path, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      await writeFileAtomic(
        `${path}.json`,
        `${JSON.stringify({ n: rows, d: dim, dtype: 'float32', byte_order: 'little', layout: 'row-major', ...meta }, null, 2)}\n`,
      );
      return;
    default:
      throw new UserInputError(`--out: ${path}: unknown format; use .npy, .jsonl, .f32 or .bin`, 'out');
  }
}

/**
 * Labels from a file: `.json` (an array), `.jsonl` (one JSON value per line), or text (one label per
 * line; numbers when every line is numeric, strings otherwise).
 */
export async function readLabelFile(path: string): Promise<unknown[]> {
  const fieldFail = (problem: string): never => {
    throw new UserInputError(`labels: ${path}: ${problem}`, 'labels');
  };
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) =>
    fieldFail(error.code === 'ENOENT' ? 'does not exist' : `cannot be read (${error.code})`),
  );
  if (text.trim() === '') fieldFail('is empty');
  const ext = extname(path).toLowerCase();
  if (ext === '.json') {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      fieldFail('is not valid JSON');
    }
    if (!Array.isArray(value)) fieldFail('must hold a JSON array of labels');
    return value as unknown[];
  }
  const lines = text.replace(/\r?\n$/, '').split(/\r?\n/);
  const blank = lines.findIndex((l) => l.trim() === '');
  if (blank >= 0) fieldFail(`line ${blank + 1} is empty`);
  if (ext === '.jsonl' || ext === '.ndjson') {
    return lines.map((line, i) => {
      try {
        return JSON.parse(line) as unknown;
      } catch {
        return fieldFail(`line ${i + 1} is not valid JSON`);
      }
    });
  }
  const numeric = lines.every((l) => Number.isFinite(Number(l)));
  return numeric ? lines.map(Number) : lines;
}
