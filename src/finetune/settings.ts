import { z } from 'zod';
import { UserInputError } from '../errors.js';
import { MASKED_ENTRIES } from '../tf/optimizer.js';
import type { MaskSettings } from './masking/create.js';
import { DPS_DEFAULTS } from './masking/dps.js';
import { GMT_DEFAULTS } from './masking/gmt.js';
import { MASK_NAMES, MASK_SCOPES } from './masking/strategy.js';

export const SELECTION_METRICS = ['accuracy', 'macroF1', 'pearson', 'spearman'] as const;
export type SelectionMetric = (typeof SELECTION_METRICS)[number];

const fraction = z.number().gt(0).lt(1);
const positiveInteger = z.number().int().positive();

/**
 * Upper bounds of the settings that scale a stage's time or memory, so that no request holds the
 * fine-tune queue for ever (epochs: 1e9) or asks for a batch no memory holds. Generous next to
 * what fine-tuning recipes use (hfselect's 32 per batch; BERT's 2–4 epochs, GMT and DPS up to 10).
 */
export const SETTING_MAXIMA = { epochs: 100, batchSize: 1024, accumulationSteps: 256, patience: 100 } as const;

/**
 * A stage's hyper-parameters, flat so the CLI (`--intermediate-set key=value`) and the HTTP API
 * set them by name. Unset fields take the defaults: transformers' Trainer recipe (AdamW, linear
 * decay, clipping at norm 1) with BERT's usual fine-tuning rate, hfselect's batch size of 32.
 */
export const stageSettingsSchema = z.strictObject({
  epochs: positiveInteger.max(SETTING_MAXIMA.epochs).default(3),
  batchSize: positiveInteger.max(SETTING_MAXIMA.batchSize).default(32),
  learningRate: z.number().positive().default(2e-5),
  weightDecay: z.number().min(0).default(0.01),
  /** Fraction of the stage's optimiser steps spent warming the learning rate up. */
  warmupRatio: z.number().min(0).lt(1).default(0),
  maxGradNorm: z.number().positive().default(1),
  accumulationSteps: positiveInteger.max(SETTING_MAXIMA.accumulationSteps).default(1),
  /** Held out for evaluation when the task brings no evaluation split. */
  heldOutFraction: fraction.default(0.1),
  /** Stop after this many epochs without improvement of `selectBy`; 0 never stops early. */
  patience: z.number().int().min(0).max(SETTING_MAXIMA.patience).default(2),
  /** The held-out metric that picks the best epoch; default accuracy (classification) or pearson (regression). */
  selectBy: z.enum(SELECTION_METRICS).optional(),
  seed: z.number().int().min(0).default(0),
  mask: z.enum(MASK_NAMES).default('none'),
  /** What masked entries do in AdamW (see TrainingOptimizer). */
  maskedEntries: z.enum(MASKED_ENTRIES).default('faithful'),
  /** Which parameters the mask covers; default all for gmt, the encoder for dps. */
  maskScope: z.enum(MASK_SCOPES).optional(),
  keepFraction: fraction.default(GMT_DEFAULTS.keepFraction),
  updateRatio: fraction.default(DPS_DEFAULTS.updateRatio),
  dropFraction: fraction.default(DPS_DEFAULTS.dropFraction),
});

export type StageSettingsInput = z.input<typeof stageSettingsSchema>;
export type StageSettings = z.output<typeof stageSettingsSchema>;

/** Validates a stage's settings; `stage` names it in the one-line error. */
export function resolveStageSettings(input: StageSettingsInput | undefined, stage: string): StageSettings {
  const parsed = stageSettingsSchema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue.path.join('.');
  const message =
    issue.code === 'unrecognized_keys'
      ? `unknown setting ${issue.keys.map((k) => `"${k}"`).join(', ')} (settings: ${Object.keys(stageSettingsSchema.shape).join(', ')})`
      : `${field}: ${issue.message}`;
  throw new UserInputError(`${stage} stage: ${message}`, field || stage);
}

export function maskSettings(settings: StageSettings): MaskSettings {
  switch (settings.mask) {
    case 'none':
      return { name: 'none' };
    case 'gmt':
      return { name: 'gmt', keepFraction: settings.keepFraction, scope: settings.maskScope ?? GMT_DEFAULTS.scope };
    case 'dps':
      return { name: 'dps', updateRatio: settings.updateRatio, dropFraction: settings.dropFraction, scope: settings.maskScope ?? DPS_DEFAULTS.scope };
  }
}
