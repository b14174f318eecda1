/**
 * How many of `count` entries a fraction keeps: ⌈fraction·count⌉, so any positive fraction keeps at
 * least one entry.
 */
export function keptCount(fraction: number, count: number): number {
  return Math.min(count, Math.ceil(fraction * count - 1e-9));
}

/**
 * The magnitude threshold τ such that the entries with |xᵢ| ≥ τ are the `keep` largest in magnitude,
 * found without sorting: the `keep`-th largest |x| by a radix select on the IEEE-754 bit patterns
 * (for non-negative floats, their order as unsigned integers is the order of the values). Each of
 * the four passes counts the entries that share the prefix found so far by their next byte and
 * bisects 256 ways on that count, so the cost is 4 passes over the tensor plus 4·256 counters.
 *
 * Ties: entries equal to τ are all kept, so a tie at the boundary keeps a few more than `keep`.
 * Zeros are never kept: when fewer than `keep` entries are nonzero (e.g. more zeros than the
 * fraction dropped), τ is the smallest nonzero magnitude, keeping exactly the nonzero entries; when
 * all are zero (or `keep` is 0), τ is +∞ and nothing is kept.
 */
export function magnitudeThreshold(values: Float32Array, keep: number): number {
  const n = values.length;
  if (keep <= 0 || n === 0) return Infinity;
  const target = Math.min(keep, n);
  const bits = new Uint32Array(values.buffer, values.byteOffset, n);
  const counts = new Uint32Array(256);
  let prefix = 0;
  let prefixMask = 0;
  let remaining = target;
  for (let shift = 24; shift >= 0; shift -= 8) {
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      // Clearing the sign bit gives |x|'s pattern; the top byte is then at most 0x7f, so the signed
      // results of JavaScript's bit operators compare correctly.
      const key = bits[i] & 0x7fffffff;
      if ((key & prefixMask) === prefix) counts[(key >>> shift) & 0xff]++;
    }
    let digit = 255;
    while (digit > 0 && counts[digit] < remaining) remaining -= counts[digit--];
    prefix |= digit << shift;
    prefixMask |= 0xff << shift;
  }
  if (prefix !== 0) return new Float32Array(Uint32Array.of(prefix).buffer)[0];
  // The keep-th largest magnitude is 0: keep the nonzero entries only.
  let smallest = Infinity;
  for (let i = 0; i < n; i++) {
    const magnitude = Math.abs(values[i]);
    if (magnitude > 0 && magnitude < smallest) smallest = magnitude;
  }
  return smallest;
}
