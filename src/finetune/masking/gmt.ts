import * as tf from '@tensorflow/tfjs-core';
import type { ModelParameter } from '../encoder.js';
import { inScope, type MaskingStrategy, type MaskScope } from './strategy.js';
import { keptCount, magnitudeThreshold } from './threshold.js';

export interface GmtOptions {
  /** Fraction of each tensor's entries updated per step, those with the largest |gradient|. */
  readonly keepFraction: number;
  readonly scope: MaskScope;
}

export const GMT_DEFAULTS: GmtOptions = { keepFraction: 0.7, scope: 'all' };

/**
 * Gradient-Mask Tuning (Li et al., 2024): at every optimiser step, the gradients averaged over the
 * accumulation window are masked per tensor to the entries whose |g| is among the top
 * `keepFraction` of that tensor (threshold by `magnitudeThreshold`, zeros never kept); the rest are
 * zeroed before AdamW.
 */
export function gradientMaskTuning(parameters: readonly ModelParameter[], options: GmtOptions): MaskingStrategy {
  let masks: (tf.Tensor | null)[] = [];
  const release = () => tf.dispose(masks.filter((m): m is tf.Tensor => m !== null));
  return {
    name: 'gmt',
    description: `gmt (keep ${options.keepFraction} per tensor, scope ${options.scope})`,
    select(gradients) {
      release();
      masks = parameters.map((parameter, i) => {
        if (!inScope(parameter, options.scope)) return null;
        const g = gradients[i];
        const threshold = magnitudeThreshold(g.dataSync() as Float32Array, keptCount(options.keepFraction, g.size));
        return tf.tidy(() => tf.greaterEqual(tf.abs(g), threshold));
      });
      return masks;
    },
    dispose: release,
  };
}
