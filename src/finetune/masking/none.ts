import type { MaskingStrategy } from './strategy.js';

/** Vanilla fine-tuning: every entry of every parameter is updated. */
export function noMasking(parameterCount: number): MaskingStrategy {
  const all: null[] = new Array<null>(parameterCount).fill(null);
  return {
    name: 'none',
    description: 'none (dense fine-tuning)',
    select: () => all,
    dispose() {},
  };
}
