/** Embeddings of a dataset: `rows` vectors of length `dim`, row-major float32. */
export interface Embeddings {
  readonly rows: number;
  readonly dim: number;
  readonly data: Float32Array;
}

/** Little-endian float32 bytes as a Float32Array: a view when they are 4-byte aligned, else an aligned copy. */
export function float32View(bytes: Uint8Array): Float32Array {
  if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  return new Float32Array(new Uint8Array(bytes).buffer);
}
