import * as tf from '@tensorflow/tfjs-core';
import type { ModelParameter } from '../encoder.js';
import { inScope, type MaskingStrategy, type MaskScope } from './strategy.js';
import { keptCount, magnitudeThreshold } from './threshold.js';

export interface DpsOptions {
  /** Phase length as a fraction of the stage's optimiser steps: U = max(1, round(updateRatio·totalSteps)). */
  readonly updateRatio: number;
  /** Fraction p of each Linear weight left out in the sparse phases; the top 1 − p are updated. */
  readonly dropFraction: number;
  readonly scope: MaskScope;
}

export const DPS_DEFAULTS: DpsOptions = { updateRatio: 0.05, dropFraction: 0.3, scope: 'encoder' };

/**
 * Dynamic Parameter Selection, dense variant (Zhang et al., 2022): the steps run in phases of U.
 * In the 1st, 3rd, … phase every entry is updated and Σg² is accumulated per entry of each Linear
 * weight in scope (the sum restarts with each such phase); at the start of the 2nd, 4th, … phase,
 * the top 1 − p entries of each of those weights by that sum are selected, and only they are
 * updated for its U steps. Other parameters (embeddings, biases, LayerNorm) are always updated.
 */
export function dynamicParameterSelection(parameters: readonly ModelParameter[], totalSteps: number, options: DpsOptions): MaskingStrategy {
  const phaseLength = Math.max(1, Math.round(options.updateRatio * totalSteps));
  const selected = parameters.map((p) => p.kind === 'linear' && inScope(p, options.scope));
  const sums = parameters.map((p, i) => (selected[i] ? tf.variable(tf.zeros([...p.shape]), false) : null));
  let masks: (tf.Tensor | null)[] = parameters.map(() => null);
  const dense: null[] = parameters.map(() => null);
  const releaseMasks = () => tf.dispose(masks.filter((m): m is tf.Tensor => m !== null));
  return {
    name: 'dps',
    description: `dps (phases of ${phaseLength} steps, update ${1 - options.dropFraction} of each Linear weight, scope ${options.scope})`,
    select(gradients, step) {
      const phase = Math.floor((step - 1) / phaseLength);
      const phaseStart = (step - 1) % phaseLength === 0;
      if (phase % 2 === 0) {
        tf.tidy(() =>
          sums.forEach((sum, i) => {
            if (sum) sum.assign(phaseStart ? tf.square(gradients[i]) : tf.add(sum, tf.square(gradients[i])));
          }),
        );
        return dense;
      }
      if (phaseStart) {
        releaseMasks();
        masks = sums.map((sum) => {
          if (!sum) return null;
          const threshold = magnitudeThreshold(sum.dataSync() as Float32Array, keptCount(1 - options.dropFraction, sum.size));
          return tf.tidy(() => tf.greaterEqual(sum, threshold));
        });
      }
      return masks;
    },
    dispose() {
      releaseMasks();
      tf.dispose(sums.filter((s): s is tf.Variable => s !== null));
    },
  };
}
