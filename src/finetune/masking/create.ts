import type { ModelParameter } from '../encoder.js';
import { type DpsOptions, dynamicParameterSelection } from './dps.js';
import { type GmtOptions, gradientMaskTuning } from './gmt.js';
import { noMasking } from './none.js';
import type { MaskingStrategy } from './strategy.js';

/** A stage's masking, as the job records it. */
export type MaskSettings = { readonly name: 'none' } | ({ readonly name: 'gmt' } & GmtOptions) | ({ readonly name: 'dps' } & DpsOptions);

/** The strategy for a stage of `totalSteps` optimiser steps over `parameters`. */
export function createMaskingStrategy(settings: MaskSettings, parameters: readonly ModelParameter[], totalSteps: number): MaskingStrategy {
  switch (settings.name) {
    case 'none':
      return noMasking(parameters.length);
    case 'gmt':
      return gradientMaskTuning(parameters, settings);
    case 'dps':
      return dynamicParameterSelection(parameters, totalSteps, settings);
  }
}
