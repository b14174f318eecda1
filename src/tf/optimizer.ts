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
 * of `accumulationSteps` micro-batches averaged, clipped to a global norm, then an AdamW step at
 * the learning rate of a linear warm-up/decay schedule (`scheduler.step()` after `optimizer.step()`).
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

  private apply(gradients: readonly tf.Tensor[]): OptimizerStep {
    const learningRate = this.options.learningRate * this.schedule(this.adamw.stepCount);
    const { maxGradNorm } = this.options;
    if (maxGradNorm === undefined) {
      this.adamw.step(gradients, learningRate);
      return { step: this.adamw.stepCount, learningRate };
    }
    const clipped = clipGradNorm(gradients, maxGradNorm);
    try {
      this.adamw.step(clipped.gradients, learningRate);
    } finally {
      tf.dispose(clipped.gradients);
    }
    return { step: this.adamw.stepCount, learningRate, gradNorm: clipped.norm };
  }

  dispose(): void {
    this.adamw.dispose();
    this.accumulator.dispose();
  }
}
