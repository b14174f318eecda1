import type { GradientMask } from '../../tf/optimizer.js';
import type { ModelParameter } from '../encoder.js';

export const MASK_NAMES = ['none', 'gmt', 'dps'] as const;
export type MaskName = (typeof MASK_NAMES)[number];

/** Which parameters a strategy may mask: all, or the encoder only (not the embeddings, not the head). */
export const MASK_SCOPES = ['all', 'encoder'] as const;
export type MaskScope = (typeof MASK_SCOPES)[number];

/**
 * A sparse fine-tuning strategy: a GradientMask that the optimiser asks, every step, which entries
 * may change. Strategies keep their masks (and any statistics) on the backend and free them in `dispose`.
 */
export interface MaskingStrategy extends GradientMask {
  readonly name: MaskName;
  /** Human-readable settings, for logs and the job record. */
  readonly description: string;
  dispose(): void;
}

export function inScope(parameter: ModelParameter, scope: MaskScope): boolean {
  return scope === 'all' || parameter.group === 'encoder';
}
