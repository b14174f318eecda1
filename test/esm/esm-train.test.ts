import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import { trainEsm } from '../../src/esm/train.js';
import type { Embeddings } from '../../src/io/embeddings.js';
import { randomGenerator } from '../helpers/random.js';
import { referenceDir } from '../helpers/reference.js';

const metadata = { base_model_name: 'test/encoder', task_id: 'test/task' };

/** Pairs y = A x + c (+ noise) of a known map A near the identity. */
function pairs(n: number, d: number, noise: number, seed: number): { base: Embeddings; tuned: Embeddings; a: Float32Array } {
  const rng = randomGenerator(seed);
  const x = rng.normals(n * d);
  const a = rng.normals(d * d, 0.3 / Math.sqrt(d));
  for (let i = 0; i < d; i++) a[i * d + i] += 1;
  const y = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      let s = 0.1;
      for (let k = 0; k < d; k++) s += a[j * d + k] * x[i * d + k];
      y[i * d + j] = s + noise * rng.normal();
    }
  }
  return { base: { rows: n, dim: d, data: x }, tuned: { rows: n, dim: d, data: y }, a };
}

describe('trainEsm', () => {
  it("reproduces PyTorch's trajectory for hfselect's recipe (same split, init and batch order)", async () => {
    const golden = JSON.parse(await readFile(join(referenceDir, '..', 'training', 'esm-training.json'), 'utf8'));
    const { n, d, settings, expected } = golden;
    const base = { rows: n, dim: d, data: Float32Array.from(golden.base) };
    const tuned = { rows: n, dim: d, data: Float32Array.from(golden.tuned) };
    const epochs: number[] = [];
    const { esm, report } = await trainEsm(base, tuned, metadata, { ...settings, onEpoch: ({ loss }) => epochs.push(loss) });
    expect(report.trainRows).toBe(expected.trainRows);
    expect(report.heldOutRows).toBe(expected.heldOutRows);
    expect(report.steps).toBe(expected.steps);
    expect(epochs).toEqual(report.epochLosses);
    report.epochLosses.forEach((loss, i) => expect(loss).toBeCloseTo(expected.epochLosses[i], 5));
    esm.weight.forEach((w, i) => expect(w).toBeCloseTo(expected.weight[i], 5));
    esm.bias.forEach((b, i) => expect(b).toBeCloseTo(expected.bias[i], 5));
    expect(report.heldOutR2).toBeCloseTo(expected.heldOutR2, 5);
  });

  it('recovers a known linear map, with a held-out R² near 1, and records the recipe in the config', async () => {
    const { base, tuned, a } = pairs(400, 16, 0.01, 11);
    const { esm, report } = await trainEsm(base, tuned, { ...metadata, language: 'en' }, { epochs: 40, seed: 3 });
    expect(report.heldOutRows).toBe(40);
    expect(report.heldOutR2).toBeGreaterThan(0.98);
    expect(report.epochLosses[39]).toBeLessThan(report.epochLosses[0] / 10);
    const maxError = Math.max(...Array.from(esm.weight, (w, i) => Math.abs(w - a[i])));
    // Weight decay pulls W slightly towards 0, so the map is close, not exact (the start is off by about 1).
    expect(maxError).toBeLessThan(0.1);
    expect(esm.config).toMatchObject({
      task_id: 'test/task',
      base_model_name: 'test/encoder',
      language: 'en',
      num_examples: 400,
      esm_architecture: 'linear',
      esm_embedding_dim: 16,
      esm_num_epochs: 40,
      esm_batch_size: 32,
      esm_learning_rate: 0.01,
      esm_weight_decay: 0.01,
      esm_optimizer: 'AdamW',
    });
  });

  it('is deterministic for a seed and differs for another', async () => {
    const { base, tuned } = pairs(100, 8, 0.1, 5);
    const first = await trainEsm(base, tuned, metadata, { epochs: 2, seed: 9 });
    const again = await trainEsm(base, tuned, metadata, { epochs: 2, seed: 9 });
    const other = await trainEsm(base, tuned, metadata, { epochs: 2, seed: 10 });
    expect(Array.from(again.esm.weight)).toEqual(Array.from(first.esm.weight));
    expect(Array.from(other.esm.weight)).not.toEqual(Array.from(first.esm.weight));
  });

  it('rejects pairs that do not match, non-finite values and bad settings, naming the field', async () => {
    const { base, tuned } = pairs(20, 4, 0.1, 1);
    const cases: [Embeddings, Embeddings, object, RegExp][] = [
      [base, { ...tuned, rows: 19, data: tuned.data.subarray(0, 76) }, {}, /^tuned: 19 embeddings, but the base model has 20/],
      [base, { rows: 40, dim: 2, data: tuned.data }, {}, /^tuned: 40 embeddings/],
      [{ ...base, data: Float32Array.from(base.data, (v, i) => (i === 9 ? NaN : v)) }, tuned, {}, /^base: row 2, column 1 is not finite/],
      [base, tuned, { batchSize: 0 }, /^batchSize: must be a positive integer/],
      [base, tuned, { heldOutFraction: 1 }, /^heldOutFraction: must be in \[0, 1\)/],
    ];
    for (const [b, t, options, message] of cases) {
      const error = await trainEsm(b, t, metadata, options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UserInputError);
      expect((error as Error).message).toMatch(message);
    }
    const noTask = await trainEsm(base, tuned, { ...metadata, task_id: '' }).catch((e: unknown) => e);
    expect((noTask as Error).message).toMatch(/^task_id: must be a non-empty string/);
  });
});
