/**
 * Seeded uniform numbers in [0, 1): mulberry32, a 32-bit-state generator that is fast, has no
 * dependencies and gives the same sequence on every platform for a seed.
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

/**
 * A uniform random sample of `size` items from a stream of unknown length in O(size) memory
 * (Vitter's Algorithm R: the i-th item, 0-based, replaces a random slot with probability
 * size/(i+1)). Deterministic for a seed; the sample comes back in stream order.
 */
export class Reservoir<T> {
  private readonly items: { index: number; item: T }[] = [];
  private seen = 0;
  private readonly uniform: () => number;

  constructor(
    private readonly size: number,
    seed: number,
  ) {
    this.uniform = seededUniform(seed);
  }

  offer(item: T): void {
    const index = this.seen++;
    if (index < this.size) {
      this.items.push({ index, item });
      return;
    }
    const slot = Math.floor(this.uniform() * (index + 1));
    if (slot < this.size) this.items[slot] = { index, item };
  }

  /** How many items were offered. */
  get offered(): number {
    return this.seen;
  }

  sample(): T[] {
    return [...this.items].sort((a, b) => a.index - b.index).map(({ item }) => item);
  }
}
