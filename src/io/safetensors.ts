/**
 * Reader and writer for the safetensors format (https://github.com/huggingface/safetensors):
 * an 8-byte little-endian header length, a JSON header mapping tensor names to
 * {dtype, shape, data_offsets} (plus an optional `__metadata__` string map), then the raw
 * little-endian tensor bytes.
 */
import { open } from 'node:fs/promises';

import { endianness } from 'node:os';

const ELEMENT_SIZE = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
} as const;

export type SafetensorsDtype = keyof typeof ELEMENT_SIZE;

export interface RawTensor {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** The tensor's bytes, a view into the file buffer. */
  readonly bytes: Uint8Array;
}

export interface SafetensorsContents {
  readonly tensors: ReadonlyMap<string, RawTensor>;
  readonly metadata: Readonly<Record<string, string>>;
}

export class SafetensorsError extends Error {
  override readonly name = 'SafetensorsError';
}

/** The header must be a JSON object of at most this many bytes (the reference library's limit). */
const MAX_HEADER_BYTES = 100_000_000;

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function parseSafetensors(file: Uint8Array): SafetensorsContents {
  if (file.byteLength < 8) throw new SafetensorsError(`file is ${file.byteLength} bytes, too short for a safetensors header`);
  const headerLength = readHeaderLength(file, file.byteLength);
  const header = parseHeader(file.subarray(8, 8 + headerLength));
  const data = file.subarray(8 + headerLength);
  const tensors = new Map<string, RawTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(entry);
      continue;
    }
    const { dtype, shape, begin, end } = entryLayout(name, entry);
    if (end > data.byteLength) {
      throw new SafetensorsError(`tensor ${name}: needs bytes up to ${end} but the data section has ${data.byteLength} (file truncated)`);
    }
    tensors.set(name, { dtype, shape, bytes: data.subarray(begin, end) });
  }
  return { tensors, metadata };
}

/**
 * Reads only the named tensors of a safetensors file (the header, then each tensor's byte range), so
 * taking two small tensors from a checkpoint of hundreds of megabytes does not load all of it.
 * Names the file lacks are absent from the result.
 */
export async function readSafetensorsTensors(path: string, names: readonly string[]): Promise<Map<string, RawTensor>> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const read = async (position: number, length: number): Promise<Uint8Array> => {
      const buffer = new Uint8Array(length);
      const { bytesRead } = await handle.read(buffer, 0, length, position);
      if (bytesRead !== length) throw new SafetensorsError(`${path}: file truncated at byte ${position + bytesRead}`);
      return buffer;
    };
    return await readSafetensorsRanges(read, size, names);
  } finally {
    await handle.close();
  }
}

/**
 * The named tensors of a safetensors file of `size` bytes that `read(position, length)` reads from
 * (a local file, or a remote one through HTTP Range requests): the 8-byte header length, the header,
 * then only each wanted tensor's byte range.
 */
export async function readSafetensorsRanges(
  read: (position: number, length: number) => Promise<Uint8Array>,
  size: number,
  names: readonly string[],
): Promise<Map<string, RawTensor>> {
  if (size < 8) throw new SafetensorsError(`file is ${size} bytes, too short for a safetensors header`);
  const headerLength = readHeaderLength(await read(0, 8), size);
  const header = parseHeader(await read(8, headerLength));
  const tensors = new Map<string, RawTensor>();
  for (const name of names) {
    if (!(name in header) || name === '__metadata__') continue;
    const { dtype, shape, begin, end } = entryLayout(name, header[name]);
    if (8 + headerLength + end > size) throw new SafetensorsError(`tensor ${name}: needs bytes up to ${end} but the file ends before (file truncated)`);
    tensors.set(name, { dtype, shape, bytes: await read(8 + headerLength + begin, end - begin) });
  }
  return tensors;
}

/** The header length from the first 8 bytes, checked against the file's size. */
function readHeaderLength(start: Uint8Array, fileSize: number): number {
  const headerLength = Number(new DataView(start.buffer, start.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > MAX_HEADER_BYTES || 8 + headerLength > fileSize) {
    throw new SafetensorsError(`header claims ${headerLength} bytes but the file has ${fileSize - 8} after the length (truncated or not safetensors)`);
  }
  return headerLength;
}

function parseHeader(bytes: Uint8Array): Record<string, unknown> {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new SafetensorsError('header is not valid UTF-8 JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new SafetensorsError('header is not a JSON object');
  return header as Record<string, unknown>;
}

function parseMetadata(entry: unknown): Record<string, string> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new SafetensorsError('__metadata__ is not an object');
  for (const [k, v] of Object.entries(entry)) {
    if (typeof v !== 'string') throw new SafetensorsError(`__metadata__.${k} is not a string`);
  }
  return entry as Record<string, string>;
}

/** A header entry's dtype, shape and byte range in the data section, checked for consistency. */
function entryLayout(name: string, entry: unknown): { dtype: SafetensorsDtype; shape: number[]; begin: number; end: number } {
  const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof entry !== 'object' || entry === null) throw new SafetensorsError(`tensor ${name}: header entry is not an object`);
  if (typeof e.dtype !== 'string' || !(e.dtype in ELEMENT_SIZE)) throw new SafetensorsError(`tensor ${name}: unsupported dtype ${JSON.stringify(e.dtype)}`);
  const dtype = e.dtype as SafetensorsDtype;
  if (!Array.isArray(e.shape) || !e.shape.every((s) => Number.isSafeInteger(s) && s >= 0)) {
    throw new SafetensorsError(`tensor ${name}: shape is not a list of non-negative integers`);
  }
  const offsets = e.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
    throw new SafetensorsError(`tensor ${name}: data_offsets must be [begin, end] with 0 ≤ begin ≤ end`);
  }
  const [begin, end] = offsets as [number, number];
  const shape = e.shape as number[];
  const expected = elementCount(shape) * ELEMENT_SIZE[dtype];
  if (end - begin !== expected) {
    throw new SafetensorsError(`tensor ${name}: ${end - begin} bytes for shape [${shape.join(', ')}] of ${dtype} (expected ${expected})`);
  }
  return { dtype, shape, begin, end };
}

const LITTLE_ENDIAN = endianness() === 'LE';

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/**
 * The tensor's values as float32, upcasting F16/BF16 exactly (as torch's `load_state_dict` into a
 * float32 module does) and rounding F64.
 */
export function toFloat32(tensor: RawTensor): Float32Array {
  const { dtype, bytes } = tensor;
  const count = elementCount(tensor.shape);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  switch (dtype) {
    case 'F32':
      // Same byte order as the file: one copy instead of a DataView read per value (pools stream GBs).
      if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(bytes);
      else for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      return out;
    case 'BF16': {
      const widened = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) widened[i] = view.getUint16(2 * i, true) << 16;
      return out;
    }
    default:
      throw new SafetensorsError(`dtype ${dtype} is not a floating-point type`);
  }
}

export interface TensorToWrite {
  readonly dtype: 'F32' | 'F64';
  readonly shape: readonly number[];
  readonly data: Float32Array | Float64Array;
}

/** Where a tensor sits in a file: all the header says of it. */
export interface TensorLayout {
  readonly dtype: 'F32' | 'F64';
  readonly shape: readonly number[];
}

/**
 * The first bytes of the safetensors file of these tensors, in the given order: the 8-byte length,
 * then the JSON header, space-padded to a multiple of 8 bytes (so every tensor's data is aligned).
 */
export function safetensorsHeader(tensors: Readonly<Record<string, TensorLayout>>, metadata?: Readonly<Record<string, string>>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = elementCount(t.shape) * ELEMENT_SIZE[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  const pad = (8 - ((Buffer.byteLength(json) + 8) % 8)) % 8;
  json += ' '.repeat(pad);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  return out;
}

/** Serialises tensors in the given order (`safetensorsHeader`, then each tensor's data). */
export function serializeSafetensors(tensors: Readonly<Record<string, TensorToWrite>>, metadata?: Readonly<Record<string, string>>): Uint8Array {
  let size = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const expected = elementCount(t.shape);
    if (t.data.length !== expected) throw new SafetensorsError(`tensor ${name}: ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    size += expected * ELEMENT_SIZE[t.dtype];
  }
  const head = safetensorsHeader(tensors, metadata);
  const out = new Uint8Array(head.length + size);
  out.set(head);
  const view = new DataView(out.buffer);
  let at = head.length;
  for (const t of Object.values(tensors)) {
    if (LITTLE_ENDIAN && t.data instanceof (t.dtype === 'F32' ? Float32Array : Float64Array)) {
      // The array's own bytes are the file's: copied whole, not value by value.
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    } else {
      for (let i = 0; i < t.data.length; i++) {
        if (t.dtype === 'F32') view.setFloat32(at + i * 4, t.data[i], true);
        else view.setFloat64(at + i * 8, t.data[i], true);
      }
    }
    at += t.data.length * ELEMENT_SIZE[t.dtype];
  }
  return out;
}
