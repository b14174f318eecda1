import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSafetensors, SafetensorsError, serializeSafetensors, toFloat32 } from '../../src/io/safetensors.js';
import { referenceDir } from '../helpers/reference.js';

function withHeader(header: object, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors', () => {
  it('round-trips F32 tensors with metadata, header padded to 8 bytes', () => {
    const weight = Float32Array.from([1.5, -2, 3.25, 0, 1e-30, -7]);
    const bytes = serializeSafetensors({ w: { dtype: 'F32', shape: [2, 3], data: weight } }, { format: 'pt' });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLength) % 8).toBe(0);
    const parsed = parseSafetensors(bytes);
    expect(parsed.metadata).toEqual({ format: 'pt' });
    const w = parsed.tensors.get('w')!;
    expect(w.shape).toEqual([2, 3]);
    expect(Array.from(toFloat32(w))).toEqual(Array.from(weight));
  });

  it('decodes F16 and BF16 exactly', () => {
    // F16: 1.0 = 0x3c00, -2.5 = 0xc100, 65504 = 0x7bff, smallest subnormal 2^-24 = 0x0001.
    const f16 = new Uint8Array(new Uint16Array([0x3c00, 0xc100, 0x7bff, 0x0001]).buffer);
    // BF16: 1.0 = 0x3f80, -3.0 = 0xc040.
    const bf16 = new Uint8Array(new Uint16Array([0x3f80, 0xc040]).buffer);
    const data = new Uint8Array([...f16, ...bf16]);
    const file = withHeader({ h: { dtype: 'F16', shape: [4], data_offsets: [0, 8] }, b: { dtype: 'BF16', shape: [2], data_offsets: [8, 12] } }, data);
    const parsed = parseSafetensors(file);
    expect(Array.from(toFloat32(parsed.tensors.get('h')!))).toEqual([1, -2.5, 65504, 2 ** -24]);
    expect(Array.from(toFloat32(parsed.tensors.get('b')!))).toEqual([1, -3]);
  });

  it('reads the reference harness files (F32 and F16 ESMs)', () => {
    const esms = join(referenceDir, 'esm-logme', 'small-pool', 'esms');
    const pool = JSON.parse(readFileSync(join(referenceDir, 'esm-logme', 'small-pool', 'pool.json'), 'utf8'));
    for (const source of pool.sources as { slug: string; dtype: string; legacy: boolean }[]) {
      const { tensors, metadata } = parseSafetensors(readFileSync(join(esms, source.slug, 'model.safetensors')));
      const prefix = source.legacy ? 'sequential.0.' : 'model.';
      expect(tensors.get(`${prefix}weight`)!.dtype).toBe(source.dtype);
      expect(tensors.get(`${prefix}weight`)!.shape).toEqual([16, 16]);
      expect(metadata.format).toBe('pt');
    }
  });

  it('rejects truncated files and inconsistent headers with a reason', () => {
    const good = serializeSafetensors({ w: { dtype: 'F32', shape: [4], data: new Float32Array(4) } });
    expect(() => parseSafetensors(good.subarray(0, good.length - 3))).toThrow(/truncated/);
    expect(() => parseSafetensors(good.subarray(0, 12))).toThrow(SafetensorsError);
    expect(() => parseSafetensors(new Uint8Array(4))).toThrow(/too short/);
    expect(() => parseSafetensors(withHeader({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)))).toThrow(/expected 12/);
    expect(() => parseSafetensors(withHeader({ w: { dtype: 'Q4', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)))).toThrow(/unsupported dtype/);
  });
});
