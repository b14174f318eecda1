/**
 * Seeded pseudo-random numbers for everything that must be reproducible from a seed (ESM training
 * splits, initialisation, shuffles). mulberry32 uses only 32-bit integer arithmetic, so a seed gives
 * the same sequence on every platform, and a few lines of Python reproduce it (the training goldens).
 */
export function seededUniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates (Durstenfeld) shuffle in place, as `torch.randperm` would order a dataset, with our generator. */
export function shuffleInPlace<T extends { [index: number]: unknown; length: number }>(values: T, uniform: () => number): T {
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(uniform() * (i + 1));
    const swap = values[i];
    values[i] = values[j];
    values[j] = swap;
  }
  return values;
}

/** A standard normal draw from two uniforms (Box–Muller, cosine branch). */
export function standardNormal(uniform: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}
