/** Embeddings of a dataset: `rows` vectors of length `dim`, row-major float32. */
export interface Embeddings {
  readonly rows: number;
  readonly dim: number;
  readonly data: Float32Array;
}
