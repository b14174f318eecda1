import * as tf from '@tensorflow/tfjs-core';
import { AdamW, type AdamWOptions, type Parameter } from './adamw.js';
import { clipGradNorm, GradientAccumulator } from './gradients.js';
import { linearScheduleWithWarmup } from './schedule.js';

export interface TrainingOptimizerOptions extends AdamWOptions {
  /** The peak learning rate, reached after the warm-up. */
  readonly learningRate: number;
  /** Optimiser steps in the whole run (after accumulation), the end of the linear decay. */
  readonly totalSteps: number;
  readonly warmupSteps?: number;
  /** Clip the global gradient norm to this (torch `clip_grad_norm_`); unset: no clipping. */
  readonly maxGradNorm?: number;
  /** Micro-batches whose gradients are averaged into one optimiser step. */
  readonly accumulationSteps?: number;
  /** Chooses, per optimiser step, the entries each parameter may update (sparse fine-tuning); unset: all. */
  readonly gradientMask?: GradientMask;
  /**
   * What a masked entry does: `faithful` (default) feeds it a zero gradient, which still decays its
   * Adam moments and moves it by its momentum and weight decay, as the GMT and DPS reference code
   * do by zeroing `.grad`; `strict` leaves its weight and moments untouched.
   */
  readonly maskedEntries?: MaskedEntries;
}

export const MASKED_ENTRIES = ['faithful', 'strict'] as const;
export type MaskedEntries = (typeof MASKED_ENTRIES)[number];

/**
 * Which entries an optimiser step may update. Called once per step with the step's gradients,
 * averaged over the accumulation window and not yet clipped, and the 1-based step number; returns
 * per parameter a boolean tensor of its shape (true: update) or null (update every entry). The
 * masks stay owned by the implementation and only need to live until its next call.
 */
export interface GradientMask {
  select(gradients: readonly tf.Tensor[], step: number): readonly (tf.Tensor | null)[];
}

/** What one optimiser step did. */
export interface OptimizerStep {
  /** 1-based optimiser step. */
  readonly step: number;
  readonly learningRate: number;
  /** The global gradient norm before clipping (when clipping is on). */
  readonly gradNorm?: number;
}

/**
 * The optimisation recipe of transformers' Trainer and hfselect's ESMTrainer in one place: gradients
 * of `accumulationSteps` micro-batches averaged, masked (when a `gradientMask` is set), clipped to a
 * global norm, then an AdamW step at the learning rate of a linear warm-up/decay schedule
 * (`scheduler.step()` after `optimizer.step()`).
 */
export class TrainingOptimizer {
  readonly adamw: AdamW;
  private readonly schedule: (step: number) => number;
  private readonly accumulator = new GradientAccumulator();
  private readonly accumulationSteps: number;

  constructor(
    parameters: readonly Parameter[],
    readonly options: TrainingOptimizerOptions,
  ) {
    this.adamw = new AdamW(parameters, options);
    this.schedule = linearScheduleWithWarmup(options.warmupSteps ?? 0, options.totalSteps);
    this.accumulationSteps = options.accumulationSteps ?? 1;
    if (!Number.isInteger(this.accumulationSteps) || this.accumulationSteps < 1) {
      throw new RangeError(`accumulationSteps must be a positive integer, got ${this.accumulationSteps}`);
    }
  }

  /**
   * Adds one micro-batch's gradients (the caller keeps ownership); every `accumulationSteps`-th
   * call takes an optimiser step and says what it did, the others return null.
   */
  update(gradients: readonly tf.Tensor[]): OptimizerStep | null {
    if (this.accumulationSteps === 1) return this.apply(gradients);
    this.accumulator.add(gradients);
    return this.accumulator.count === this.accumulationSteps ? this.flush() : null;
  }

  /** Steps with what is accumulated, if anything (the Trainer does so at the end of an epoch). */
  flush(): OptimizerStep | null {
    if (this.accumulator.count === 0) return null;
    const mean = this.accumulator.takeMean();
    try {
      return this.apply(mean);
    } finally {
      tf.dispose(mean);
    }
  }

  private apply(averaged: readonly tf.Tensor[]): OptimizerStep {
    const learningRate = this.options.learningRate * this.schedule(this.adamw.stepCount);
    const { maxGradNorm, gradientMask, maskedEntries = 'faithful' } = this.options;
    const masks = gradientMask?.select(averaged, this.adamw.stepCount + 1);
    const owned: tf.Tensor[] = [];
    try {
      let gradients = averaged;
      if (masks) {
        gradients = averaged.map((g, i) => {
          const mask = masks[i];
          if (!mask) return g;
          const masked = tf.tidy(() => tf.where(mask, g, tf.zerosLike(g)));
          owned.push(masked);
          return masked;
        });
      }
      let gradNorm: number | undefined;
      if (maxGradNorm !== undefined) {
        const clipped = clipGradNorm(gradients, maxGradNorm);
        owned.push(...clipped.gradients);
        gradients = clipped.gradients;
        gradNorm = clipped.norm;
      }
      this.adamw.step(gradients, learningRate, maskedEntries === 'strict' ? masks : undefined);
      return gradNorm === undefined ? { step: this.adamw.stepCount, learningRate } : { step: this.adamw.stepCount, learningRate, gradNorm };
    } finally {
      tf.dispose(owned);
    }
  }

  dispose(): void {
    this.adamw.dispose();
    this.accumulator.dispose();
  }
}
