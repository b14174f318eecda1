/**
 * transformers' `get_linear_schedule_with_warmup`: the factor applied to the base learning rate at
 * optimiser step `step` (0-based: the number of steps already taken, as LambdaLR counts):
 *   step < warmup:  step / max(1, warmup)
 *   otherwise:      max(0, (total − step) / max(1, total − warmup))
 * so the first step after a warm-up of 0 runs at the full rate and the rate reaches 0 after `total` steps.
 */
export function linearScheduleWithWarmup(warmupSteps: number, totalSteps: number): (step: number) => number {
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0) throw new RangeError(`warmupSteps must be a non-negative integer, got ${warmupSteps}`);
  if (!Number.isInteger(totalSteps) || totalSteps < 1) throw new RangeError(`totalSteps must be a positive integer, got ${totalSteps}`);
  return (step) => {
    if (step < warmupSteps) return step / Math.max(1, warmupSteps);
    return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
  };
}
