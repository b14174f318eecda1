import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bertConfigJson } from '../../pretrain/export.js';
import { epochBatches, pretrain } from '../../pretrain/train.js';
import { readModelFolder } from '../../src/finetune/checkpoint.js';
import {
  createMaskedLanguageModel,
  loadMaskedLanguageModel,
  type MaskedBatch,
  type MaskingOptions,
  maskTokens,
  saveMaskedLanguageModel,
} from '../../src/finetune/mlm.js';
import type { EncoderConfig } from '../../src/finetune/model-config.js';
import { padBatch } from '../../src/finetune/tokenize.js';
import { parseSafetensors } from '../../src/io/safetensors.js';
import { seededUniform } from '../../src/random.js';
import { loadTensorflow } from '../../src/tf/backend.js';
import { TrainingOptimizer } from '../../src/tf/optimizer.js';
import { centralDifference } from '../helpers/gradcheck.js';

/** A BERT small enough for finite differences; a wide initialisation so that every gradient is resolvable. */
const CONFIG: EncoderConfig = {
  architecture: 'bert',
  vocabSize: 40,
  hiddenSize: 16,
  numLayers: 2,
  numHeads: 2,
  intermediateSize: 32,
  maxPositions: 32,
  typeVocabSize: 2,
  layerNormEps: 1e-12,
  activation: 'gelu',
  hiddenDropout: 0.1,
  attentionDropout: 0.1,
  classifierDropout: 0.1,
  initializerRange: 0.3,
};
const MASKING: MaskingOptions = { vocabSize: 40, maskTokenId: 4, specialIds: new Set([0, 1, 2, 3, 4]) };

/** Sequences [CLS] w… [SEP] of random regular ids, of the given lengths. */
function sequences(lengths: readonly number[], seed: number): Int32Array[] {
  const uniform = seededUniform(seed);
  return lengths.map((n) => Int32Array.from({ length: n }, (_, i) => (i === 0 ? 2 : i === n - 1 ? 3 : 5 + Math.floor(uniform() * 35))));
}

let scratch: string;
beforeAll(async () => {
  await loadTensorflow();
  scratch = await mkdtemp(join(tmpdir(), 'esmselect-mlm-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('maskTokens', () => {
  it("follows BERT's rule: 15 % of real tokens chosen, 80 % of them [MASK], 10 % random, 10 % kept; never special tokens or padding", () => {
    const seqs = sequences(
      Array.from({ length: 200 }, (_, i) => 5 + (i % 40)),
      1,
    );
    const batch = padBatch(seqs, Int32Array.from(seqs.keys()));
    const masked = maskTokens(batch, seededUniform(2), MASKING);
    const real = batch.attentionMask.reduce((n, m, i) => n + (m === 1 && !MASKING.specialIds.has(batch.inputIds[i]) ? 1 : 0), 0);
    const chosen = masked.positions.length;
    expect(chosen / real).toBeGreaterThan(0.135);
    expect(chosen / real).toBeLessThan(0.165);
    let asMask = 0;
    let kept = 0;
    masked.positions.forEach((p, i) => {
      expect(masked.labels[i]).toBe(batch.inputIds[p]);
      expect(batch.attentionMask[p]).toBe(1);
      expect(MASKING.specialIds.has(batch.inputIds[p])).toBe(false);
      if (masked.batch.inputIds[p] === MASKING.maskTokenId) asMask++;
      else {
        expect(MASKING.specialIds.has(masked.batch.inputIds[p])).toBe(false);
        if (masked.batch.inputIds[p] === batch.inputIds[p]) kept++;
      }
    });
    expect(asMask / chosen).toBeGreaterThan(0.76);
    expect(asMask / chosen).toBeLessThan(0.84);
    expect(kept / chosen).toBeGreaterThan(0.07);
    expect(kept / chosen).toBeLessThan(0.14);
    // Nothing but the chosen tokens changes.
    const chosenSet = new Set(masked.positions);
    masked.batch.inputIds.forEach((id, i) => chosenSet.has(i) || expect(id).toBe(batch.inputIds[i]));
    // A seed fixes the masks; another seed gives others.
    expect(maskTokens(batch, seededUniform(2), MASKING)).toEqual(masked);
    expect(maskTokens(batch, seededUniform(3), MASKING).positions).not.toEqual(masked.positions);
  });

  it('chooses one token when the draw chose none, so that the loss is defined', () => {
    const batch = padBatch(sequences([4], 1), [0]);
    const masked = maskTokens(batch, () => 0.99, MASKING);
    expect(Array.from(masked.positions)).toEqual([1]);
    expect(masked.batch.inputIds[1]).toBe(MASKING.maskTokenId);
  });
});

describe('MaskedLanguageModel', () => {
  const batchOf = (seed: number): MaskedBatch => {
    const seqs = sequences([9, 6, 12], seed);
    return maskTokens(padBatch(seqs, [0, 1, 2]), seededUniform(seed), { ...MASKING, probability: 0.4 });
  };

  it('has gradients that agree with central finite differences, the tied word embeddings included', () => {
    const model = createMaskedLanguageModel(CONFIG, 11);
    const masked = batchOf(5);
    const seeds = () => {
      const uniform = seededUniform(7);
      return () => Math.floor(uniform() * 2 ** 31);
    };
    const loss = () => tf.tidy(() => model.loss(masked, seeds()));
    const { value, grads } = tf.variableGrads(
      loss,
      model.parameters.map((p) => p.variable),
    );
    value.dispose();
    // Per parameter, its entry with the largest gradient (resolvable by float32 differences). The word
    // embeddings get gradient both as inputs and as the tied output weights.
    const names = [
      'embeddings.word_embeddings.weight',
      'embeddings.position_embeddings.weight',
      'encoder.layer.0.attention.self.key.weight',
      'encoder.layer.1.output.dense.weight',
      'cls.predictions.transform.dense.weight',
      'cls.predictions.transform.LayerNorm.weight',
      'cls.predictions.bias',
    ];
    const entries = names.map((name): [string, number] => {
      const values = Array.from(grads[model.parameters.find((p) => p.name === name)!.variable.name].dataSync());
      return [name, values.reduce((best, v, i) => (Math.abs(v) > Math.abs(values[best]) ? i : best), 0)];
    });
    const step = 0.02;
    for (const [name, index] of entries) {
      const parameter = model.parameters.find((p) => p.name === name)!;
      const numeric = centralDifference(parameter, index, loss, step);
      const { variable } = parameter;
      const analytic = grads[variable.name].dataSync()[index];
      expect(Math.abs(analytic), name).toBeGreaterThan(1e-3);
      expect(Math.abs(analytic - numeric) / Math.abs(analytic), `${name}: autodiff ${analytic}, finite difference ${numeric}`).toBeLessThan(5e-3);
    }
    tf.dispose(grads);
    model.dispose();
  });

  it('learns: optimiser steps on one batch lower its loss', () => {
    const model = createMaskedLanguageModel({ ...CONFIG, initializerRange: 0.02 }, 3);
    const masked = batchOf(8);
    const optimizer = new TrainingOptimizer(model.parameters, { learningRate: 1e-2, weightDecay: 0, totalSteps: 1000 });
    const variables = model.parameters.map((p) => p.variable);
    const losses: number[] = [];
    for (let i = 0; i < 40; i++) {
      const { value, grads } = tf.variableGrads(() => model.loss(masked, null), variables);
      losses.push(value.dataSync()[0]);
      optimizer.update(variables.map((v) => grads[v.name]));
      tf.dispose([value, ...Object.values(grads)]);
    }
    // Untrained, the loss is about ln(vocabulary size); it falls well below that.
    expect(losses[0]).toBeCloseTo(Math.log(40), 0);
    expect(losses[39]).toBeLessThan(0.25 * losses[0]);
    expect(Array.from(model.predict(masked))).toEqual(Array.from(masked.labels));
    optimizer.dispose();
    model.dispose();
  });

  it('pretrains deterministically: the same seed gives the same weights, another seed others', async () => {
    const data = sequences(
      Array.from({ length: 24 }, (_, i) => 4 + (i % 9)),
      4,
    );
    const settings = { seed: 5, epochs: 2, batchSize: 8, learningRate: 5e-3, warmupRatio: 0.1, weightDecay: 0.01, maxGradNorm: 1, dropout: true };
    const run = async (seed: number) => {
      const model = createMaskedLanguageModel(CONFIG, seed);
      const report = await pretrain(model, data, { ...settings, seed }, MASKING);
      const weights = model.snapshot();
      model.dispose();
      return { report, weights };
    };
    const tensors = tf.memory().numTensors;
    const first = await run(5);
    // Nothing left behind by the loop (masks, gradients, optimiser state) once the model is disposed.
    expect(tf.memory().numTensors).toBe(tensors);
    const again = await run(5);
    const other = await run(6);
    expect(first.report.steps).toBe(6);
    expect(again.weights).toEqual(first.weights);
    expect(other.weights.get('cls.predictions.bias')).not.toEqual(first.weights.get('cls.predictions.bias'));
    // Batches hold sequences of similar length, and each epoch covers every sequence once.
    const batches = epochBatches(data, 8, seededUniform(1));
    expect([...batches.flatMap((b) => Array.from(b))].sort((a, b) => a - b)).toEqual(Array.from(data.keys()));
  });

  it('saves as BertForMaskedLM.save_pretrained does (bert.…, cls.predictions.…, no pooler) and loads back to the same predictions', async () => {
    const model = createMaskedLanguageModel(CONFIG, 9);
    const folder = join(scratch, 'mlm');
    await saveMaskedLanguageModel(model, folder);
    await writeFile(join(folder, 'config.json'), JSON.stringify(bertConfigJson(CONFIG)));
    const names = [...parseSafetensors(new Uint8Array(await readFile(join(folder, 'model.safetensors')))).tensors.keys()];
    expect(names).toEqual(
      expect.arrayContaining([
        'bert.embeddings.word_embeddings.weight',
        'bert.encoder.layer.1.output.LayerNorm.bias',
        'cls.predictions.transform.dense.weight',
        'cls.predictions.bias',
      ]),
    );
    expect(names.filter((n) => n.includes('pooler') || n.includes('decoder'))).toEqual([]);
    const loaded = loadMaskedLanguageModel(await readModelFolder(folder));
    const masked = batchOf(3);
    expect(loaded.predict(masked)).toEqual(model.predict(masked));
    // HF's initialisation: the [PAD] embedding row is zero, LayerNorm weights one.
    const embeddings = model.snapshot().get('embeddings.word_embeddings.weight')!;
    expect(Array.from(embeddings.subarray(0, CONFIG.hiddenSize))).toEqual(new Array(CONFIG.hiddenSize).fill(0));
    expect(Array.from(model.snapshot().get('embeddings.LayerNorm.weight')!)).toEqual(new Array(CONFIG.hiddenSize).fill(1));
    loaded.dispose();
    model.dispose();
  });
});
