import { describe, expect, it } from 'vitest';
import { methodMetrics, noiseSummary, targetTruths } from '../../study/analysis.js';
import type { PairRun } from '../../study/ground-truth.js';
import type { TargetScores } from '../../study/methods.js';
import { expectedBestOfTopK, regretAtK } from '../../study/metrics.js';
import { randomGenerator } from '../helpers/random.js';

/** Every order of the indices (n! of them), to average over tie-breaking by brute force. */
function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  return permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
}

/** The best outcome among the top k, averaged over every order that sorts the scores descending. */
function bruteForceBestOfTopK(scores: number[], outcomes: number[], k: number): number {
  const orders = permutations(scores.length).filter((order) => order.every((idx, i) => i === 0 || scores[order[i - 1]] >= scores[idx]));
  return orders.reduce((sum, order) => sum + Math.max(...order.slice(0, k).map((i) => outcomes[i])), 0) / orders.length;
}

describe('regret@k', () => {
  it('is the shortfall of the best of the top k relative to the best source, in %', () => {
    // Best 0.9; the top-1 pick has 0.8: 100·0.1/0.9; the top 2 contain the best.
    expect(regretAtK([3, 2, 1], [0.8, 0.9, 0.7], 1)).toBeCloseTo(100 / 9, 10);
    expect(regretAtK([3, 2, 1], [0.8, 0.9, 0.7], 2)).toBe(0);
    expect(regretAtK([1, 2, 3], [0.8, 0.9, 0.7], 1)).toBeCloseTo((100 * 0.2) / 0.9, 10);
  });

  it('breaks ties uniformly at random, in expectation', () => {
    // All tied, k = 1: the mean outcome, (0.6 + 0.8 + 0.9)/3; k = 2: pairs' maxima 0.8, 0.9, 0.9.
    expect(expectedBestOfTopK([1, 1, 1], [0.6, 0.8, 0.9], 1)).toBeCloseTo(2.3 / 3, 12);
    expect(regretAtK([1, 1, 1], [0.6, 0.8, 0.9], 2)).toBeCloseTo((100 * (0.9 - 2.6 / 3)) / 0.9, 10);
    // One pick above a tied group of three: k = 2 draws one of 0.7, 0.6, 0.9 beside 0.5; k = 3 two of them.
    expect(regretAtK([5, 2, 2, 2, 0], [0.5, 0.7, 0.6, 0.9, 1], 2)).toBeCloseTo(100 * (1 - 2.2 / 3), 10);
    expect(regretAtK([5, 2, 2, 2, 0], [0.5, 0.7, 0.6, 0.9, 1], 3)).toBeCloseTo(100 * (1 - 2.5 / 3), 10);
  });

  it('agrees with brute force over all tie-breaking orders', () => {
    const rng = randomGenerator(11);
    for (let trial = 0; trial < 60; trial++) {
      const n = 2 + rng.integer(5);
      const scores = Array.from({ length: n }, () => rng.integer(3));
      const outcomes = Array.from({ length: n }, () => 0.3 + 0.6 * rng.uniform());
      const k = 1 + rng.integer(n);
      expect(expectedBestOfTopK(scores, outcomes, k)).toBeCloseTo(bruteForceBestOfTopK(scores, outcomes, k), 12);
    }
  });

  it('refuses a k outside the ranking and mismatched lengths', () => {
    expect(() => regretAtK([1, 2], [0.5, 0.6], 3)).toThrow(RangeError);
    expect(() => regretAtK([1, 2], [0.5, 0.6], 0)).toThrow(RangeError);
    expect(() => regretAtK([1, 2], [0.5], 1)).toThrow(RangeError);
  });
});

function pair(source: string | null, target: string, mask: 'none' | 'gmt', repeat: number, testAccuracy: number): PairRun {
  return { source, target, mask, repeat, seed: repeat, testAccuracy, validationAccuracy: testAccuracy, bestEpoch: 1, seconds: 0 };
}

describe('study analysis', () => {
  const pairs: PairRun[] = [];
  // Target t: target only 0.5 / 0.6 (mean 0.55); a → 0.7 / 0.8 (0.75); b → 0.5 / 0.5; c → 0.6 / 0.7 (0.65).
  const accuracies: Record<string, [number, number]> = { '': [0.5, 0.6], a: [0.7, 0.8], b: [0.5, 0.5], c: [0.6, 0.7] };
  for (const mask of ['none', 'gmt'] as const) {
    for (const [source, values] of Object.entries(accuracies)) values.forEach((v, r) => pairs.push(pair(source || null, 't', mask, r, v)));
  }
  const truths = targetTruths(pairs, ['a', 'b', 'c'], ['t']);

  it('averages repeats into accuracies and gains over the target-only baseline', () => {
    const truth = truths.find((t) => t.mask === 'none')!;
    expect(truth.baseline).toBeCloseTo(0.55, 12);
    expect(truth.accuracies.map((a) => Number(a.toFixed(12)))).toEqual([0.75, 0.5, 0.65]);
    expect(truth.gains.map((g) => Number(g.toFixed(12)))).toEqual([0.2, -0.05, 0.1]);
  });

  it('scores a method by regret@1, regret@3 and Spearman ρ with the gains; random by expectation', () => {
    const scores: TargetScores = {
      target: 't',
      // ESM-LogME ranks c, a, b: top 1 is c (0.65 of 0.75), ranks [2, 1, 3] vs gains' [3, 1, 2]: ρ = 0.5.
      scores: { 'esm-logme': [2, 1, 3], 'finetuned-logme': [3, 1, 2], textemb: [1, 2, 3], 'base-logme': [4, 4, 4], random: null },
      seconds: { 'esm-logme': 0, 'finetuned-logme': 0, textemb: 0, 'base-logme': 0, random: 0 },
    };
    const esm = methodMetrics([scores], truths, 'esm-logme', 'none');
    expect(esm.regret1).toBeCloseTo((100 * 0.1) / 0.75, 10);
    expect(esm.regret3).toBe(0);
    expect(esm.spearman).toBeCloseTo(0.5, 12);
    const upper = methodMetrics([scores], truths, 'finetuned-logme', 'none');
    expect([upper.regret1, upper.spearman]).toEqual([0, 1]);
    // One score for all: random's regret, ρ undefined.
    const base = methodMetrics([scores], truths, 'base-logme', 'none');
    const random = methodMetrics([scores], truths, 'random', 'none');
    expect(base.regret1).toBeCloseTo((100 * (0.75 - (0.75 + 0.5 + 0.65) / 3)) / 0.75, 10);
    expect(random.regret1).toBe(base.regret1);
    expect(base.spearman).toBeNull();
    expect(random.spearman).toBe(0);
  });

  it('measures the seed noise as the pooled standard deviation over repeats', () => {
    // Per (start, target): SD of two values = |difference|/√2: 0.1/√2 three times and 0 once.
    const noise = noiseSummary(pairs, truths, 'none', 2);
    expect(noise.repeatSd).toBeCloseTo(Math.sqrt((3 * 0.005) / 4), 12);
    expect(noise.meanSd).toBeCloseTo(Math.sqrt((3 * 0.005) / 4) / Math.sqrt(2), 12);
    // SD of the gains 0.2, −0.05, 0.1.
    expect(noise.gainSpread).toBeCloseTo(Math.sqrt(((0.2 - 0.25 / 3) ** 2 + (-0.05 - 0.25 / 3) ** 2 + (0.1 - 0.25 / 3) ** 2) / 2), 12);
    expect(
      noiseSummary(
        pairs.filter((p) => p.repeat === 0),
        truths,
        'none',
        1,
      ).repeatSd,
    ).toBeNull();
  });
});
