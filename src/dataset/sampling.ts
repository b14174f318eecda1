import { seededUniform } from '../random.js';

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
