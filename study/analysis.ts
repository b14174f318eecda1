import { spearman } from '../src/finetune/metrics.js';
import { MASKS, type PairRun, type StudyMask } from './ground-truth.js';
import { METHODS, type MethodName, type TargetScores } from './methods.js';
import { mean, regretAtK, standardDeviation } from './metrics.js';

/** The true outcome of each source for one target and masking: accuracies averaged over the repeats. */
export interface TargetTruth {
  readonly target: string;
  readonly mask: StudyMask;
  /** Test accuracy fine-tuning on the target only (no intermediate task). */
  readonly baseline: number;
  /** Per source (in source order): test accuracy after source → target. */
  readonly accuracies: readonly number[];
  /** accuracy(source → target) − accuracy(target only). */
  readonly gains: readonly number[];
}

export interface TargetMetrics {
  readonly target: string;
  readonly regret1: number;
  readonly regret3: number;
  /** Null where it is undefined: the method gives every source one score (or every source gains the same). */
  readonly spearman: number | null;
}

export interface MethodMetrics {
  readonly method: MethodName;
  readonly mask: StudyMask;
  /** Means over the targets. */
  readonly regret1: number;
  readonly regret3: number;
  /** Mean over targets; random's is its expectation, 0; null where it is undefined for a target. */
  readonly spearman: number | null;
  readonly perTarget: readonly TargetMetrics[];
}

function meanAccuracy(pairs: readonly PairRun[], source: string | null, target: string, mask: StudyMask): number {
  const runs = pairs.filter((p) => p.source === source && p.target === target && p.mask === mask);
  if (runs.length === 0) throw new Error(`no fine-tune of ${source ?? 'the base model'} → ${target} (${mask})`);
  return mean(runs.map((p) => p.testAccuracy));
}

export function targetTruths(pairs: readonly PairRun[], sources: readonly string[], targets: readonly string[]): TargetTruth[] {
  return MASKS.flatMap((mask) =>
    targets.map((target) => {
      const baseline = meanAccuracy(pairs, null, target, mask);
      const accuracies = sources.map((s) => meanAccuracy(pairs, s, target, mask));
      return { target, mask, baseline, accuracies, gains: accuracies.map((a) => a - baseline) };
    }),
  );
}

const definedOrNull = (value: number) => (Number.isNaN(value) ? null : value);

/**
 * Regret@1, regret@3 (`regretAtK` against the sources' accuracies) and Spearman's ρ of the scores
 * with the true gains, per target and averaged. Random has no scores: its regret is the expectation
 * over uniformly random rankings (every score tied), its ρ the expected 0.
 */
export function methodMetrics(scores: readonly TargetScores[], truths: readonly TargetTruth[], method: MethodName, mask: StudyMask): MethodMetrics {
  const perTarget = truths
    .filter((t) => t.mask === mask)
    .map((truth): TargetMetrics => {
      const entry = scores.find((s) => s.target === truth.target);
      if (!entry) throw new Error(`no scores for ${truth.target}`);
      const given = entry.scores[method];
      const ranked = given ?? truth.accuracies.map(() => 0);
      const k3 = Math.min(3, ranked.length);
      return {
        target: truth.target,
        regret1: regretAtK(ranked, truth.accuracies, 1),
        regret3: regretAtK(ranked, truth.accuracies, k3),
        spearman: given ? definedOrNull(spearman(given, truth.gains)) : 0,
      };
    });
  const correlations = perTarget.map((t) => t.spearman);
  return {
    method,
    mask,
    regret1: mean(perTarget.map((t) => t.regret1)),
    regret3: mean(perTarget.map((t) => t.regret3)),
    spearman: correlations.every((r) => r !== null) ? mean(correlations as number[]) : null,
    perTarget,
  };
}

export function allMethodMetrics(scores: readonly TargetScores[], truths: readonly TargetTruth[]): MethodMetrics[] {
  return MASKS.flatMap((mask) => METHODS.map((method) => methodMetrics(scores, truths, method, mask)));
}

export interface NoiseSummary {
  /** Pooled sample standard deviation of one fine-tune's test accuracy across repeats (null with one repeat). */
  readonly repeatSd: number | null;
  /** The same for the mean over the repeats, the figure the ground truth uses: repeatSd / √repeats. */
  readonly meanSd: number | null;
  /** Mean over targets of the standard deviation of the true gains across sources: the signal to rank. */
  readonly gainSpread: number;
}

export function noiseSummary(pairs: readonly PairRun[], truths: readonly TargetTruth[], mask: StudyMask, repeats: number): NoiseSummary {
  const groups = new Map<string, number[]>();
  for (const p of pairs.filter((r) => r.mask === mask)) {
    const key = `${p.source ?? ''}\0${p.target}`;
    groups.set(key, [...(groups.get(key) ?? []), p.testAccuracy]);
  }
  const variances = [...groups.values()].filter((v) => v.length > 1).map((v) => standardDeviation(v) ** 2);
  const repeatSd = variances.length > 0 ? Math.sqrt(mean(variances)) : null;
  const spreads = truths.filter((t) => t.mask === mask).map((t) => standardDeviation([...t.gains]));
  return { repeatSd, meanSd: repeatSd === null ? null : repeatSd / Math.sqrt(repeats), gainSpread: mean(spreads) };
}
