/** n choose k, exactly for the small counts of a ranking of source tasks. */
function binomial(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let value = 1;
  for (let i = 1; i <= k; i++) value = (value * (n - k + i)) / i;
  return value;
}

/**
 * The expected best outcome among the k sources a method picks: its k highest scores, ties broken
 * uniformly at random. When the k-th place falls inside a group of t tied scores, m of them are
 * drawn; with the group's outcomes sorted v₁ ≤ … ≤ v_t, the largest drawn is v_j with probability
 * C(j−1, m−1) / C(t, m), so E = Σⱼ C(j−1, m−1)/C(t, m) · max(a, v_j), a the best of the untied picks.
 */
export function expectedBestOfTopK(scores: readonly number[], outcomes: readonly number[], k: number): number {
  if (scores.length !== outcomes.length) throw new RangeError(`${scores.length} scores for ${outcomes.length} outcomes`);
  if (!Number.isInteger(k) || k < 1 || k > scores.length) throw new RangeError(`k must be in 1..${scores.length}, got ${k}`);
  const order = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a]);
  let best = -Infinity;
  let taken = 0;
  for (let start = 0; start < order.length; ) {
    let end = start + 1;
    while (end < order.length && scores[order[end]] === scores[order[start]]) end++;
    const group = order.slice(start, end).map((i) => outcomes[i]);
    const needed = k - taken;
    if (group.length <= needed) {
      best = Math.max(best, ...group);
      taken += group.length;
      if (taken === k) return best;
    } else {
      group.sort((a, b) => a - b);
      const ways = binomial(group.length, needed);
      return group.reduce((sum, value, j) => sum + (binomial(j, needed - 1) / ways) * Math.max(best, value), 0);
    }
    start = end;
  }
  return best;
}

/**
 * Regret@k as Poth et al. (2021) and Schulte et al. (2024) report it: how far, relative to the best
 * source's outcome, the best of the method's top k falls short, in %:
 * 100 · (max_s o_s − max_{s ∈ top-k} o_s) / max_s o_s, the top k in expectation over ties.
 */
export function regretAtK(scores: readonly number[], outcomes: readonly number[], k: number): number {
  const achievable = Math.max(...outcomes);
  return (100 * (achievable - expectedBestOfTopK(scores, outcomes, k))) / achievable;
}

export function mean(values: readonly number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

/** The sample standard deviation (n − 1). */
export function standardDeviation(values: readonly number[]): number {
  const m = mean(values);
  return Math.sqrt(values.reduce((sum, v) => sum + (v - m) ** 2, 0) / (values.length - 1));
}
