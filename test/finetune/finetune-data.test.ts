import { beforeAll, describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import { prepareTask, type TextTask, taskFingerprint } from '../../src/finetune/data.js';
import { accuracy, averageRanks, macroF1, pearson, regressionMetrics, spearman } from '../../src/finetune/metrics.js';
import { resolveStageSettings } from '../../src/finetune/settings.js';
import { loadTokenizer, padBatch, type TextTokenizer } from '../../src/finetune/tokenize.js';
import { tinyModel } from '../helpers/finetune.js';

let tokenizer: TextTokenizer;
beforeAll(async () => {
  tokenizer = await loadTokenizer(tinyModel('tiny-bert'));
});

describe('metrics', () => {
  it('accuracy and macro-F1 as scikit-learn computes them', () => {
    expect(accuracy([0, 1, 1, 2], [0, 1, 2, 2])).toBe(0.75);
    // F1 per class: 1, 2/3 (one false positive), 2/3 (one false negative).
    expect(macroF1([0, 1, 1, 2], [0, 1, 2, 2])).toBeCloseTo((1 + 2 / 3 + 2 / 3) / 3, 12);
    // Class 3 only predicted and class 1 never predicted both count, with F1 = 0.
    expect(macroF1([0, 0, 3], [0, 1, 1])).toBeCloseTo(2 / 9, 12);
  });

  it('Pearson and Spearman (ties at their average rank) as numpy and SciPy compute them', () => {
    expect(pearson([1, 2, 3, 4], [2, 4, 6, 8.5])).toBeCloseTo(0.9983814394570298, 12);
    expect(Array.from(averageRanks([10, 20, 20, 30]))).toEqual([1, 2.5, 2.5, 4]);
    expect(spearman([1, 2, 2, 3], [1, 3, 2, 4])).toBeCloseTo(0.9486832980505139, 12);
    expect(pearson([1, 1, 1], [1, 2, 3])).toBeNaN();
    // Twelve ties share the rank 6.5, whose float mean is 6.500000000000001: still constant.
    expect(spearman(new Array(12).fill(0.25), [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8])).toBeNaN();
    // Two targets: the mean of each column's correlation; MSE over every value.
    const m = regressionMetrics([1, 4, 2, 3, 3, 2], [1, 3, 2, 2, 3, 1], 2);
    expect(m.pearson).toBeCloseTo((1 + 1) / 2, 12);
    expect(m.mse).toBeCloseTo(3 / 6, 12);
  });
});

const task = (labels: unknown[], extra: Partial<TextTask> = {}): TextTask => ({
  id: 'test',
  task: 'classification',
  texts: labels.map((_, i) => `text number ${i}`),
  labels,
  ...extra,
});

describe('prepareTask', () => {
  it('holds out a seeded fraction and encodes classes from the training split', () => {
    const labels = Array.from({ length: 20 }, (_, i) => (i % 2 ? 'pos' : 'neg'));
    const a = prepareTask(task(labels), tokenizer, { heldOutFraction: 0.25, seed: 4, field: 'target' });
    const b = prepareTask(task(labels), tokenizer, { heldOutFraction: 0.25, seed: 4, field: 'target' });
    expect([a.train.size, a.evaluation.size]).toEqual([15, 5]);
    expect(a.classes).toEqual(['neg', 'pos']);
    expect(a.numLabels).toBe(2);
    expect(a.evaluation.sequences).toEqual(b.evaluation.sequences);
    expect(prepareTask(task(labels), tokenizer, { heldOutFraction: 0.25, seed: 5, field: 'target' }).evaluation.sequences).not.toEqual(a.evaluation.sequences);
    // [CLS] text number i [SEP]
    expect(a.train.sequences[0][0]).toBe(2);
    expect(a.train.sequences[0].at(-1)).toBe(3);
  });

  it('uses a given evaluation split and refuses labels the training split never has', () => {
    const prepared = prepareTask(task(['a', 'b', 'a'], { evaluation: { texts: ['x y', 'z'], labels: ['b', 'a'] } }), tokenizer, {
      heldOutFraction: 0.1,
      seed: 0,
      field: 'target',
    });
    expect(Array.from(prepared.evaluation.codes!)).toEqual([1, 0]);
    expect(() =>
      prepareTask(task(['a', 'b'], { evaluation: { texts: ['x'], labels: ['c'] } }), tokenizer, { heldOutFraction: 0.1, seed: 0, field: 'target' }),
    ).toThrow(/target evaluation: row 0 has label "c", which the training examples never have/);
  });

  it('encodes regression targets and explains bad data in one line naming the task', () => {
    const regression = prepareTask(task([0.5, 1.5, 2.5, 3.5], { task: 'regression' }), tokenizer, { heldOutFraction: 0.25, seed: 0, field: 'source' });
    expect(regression.numLabels).toBe(1);
    expect(regression.train.targets).toHaveLength(3);
    const fail = (t: TextTask) => () => prepareTask(t, tokenizer, { heldOutFraction: 0.25, seed: 0, field: 'source' });
    expect(fail(task(['a', 'a', 'a']))).toThrow(/^source labels: only one class/);
    expect(fail(task(['a', 'b'], { texts: ['ok', ' '] }))).toThrow(/^source: row 1 has an empty text/);
    expect(fail(task(['a', 'b'], { texts: ['one'] }))).toThrow(/^source: 1 texts but 2 labels/);
    expect(fail(task(['a'], { texts: ['one'] }))).toThrow(/^source: 1 examples leave none to train on/);
    expect(fail(task([1, 'x', 2, 3], { task: 'regression' }))).toThrow(UserInputError);
  });

  it('fingerprints the examples, so a resumed job notices changed data', () => {
    const base = task(['a', 'b']);
    expect(taskFingerprint(base)).toBe(taskFingerprint(task(['a', 'b'])));
    expect(taskFingerprint(base)).not.toBe(taskFingerprint(task(['a', 'a'])));
    expect(taskFingerprint(base)).not.toBe(taskFingerprint(task(['a', 'b'], { evaluation: { texts: ['x'], labels: ['a'] } })));
  });
});

describe('padBatch', () => {
  it('right-pads to the longest sequence with an attention mask', () => {
    const batch = padBatch([Int32Array.of(2, 7, 3), Int32Array.of(2, 3), Int32Array.of(2, 8, 9, 3)], [1, 0]);
    expect(batch).toMatchObject({ size: 2, length: 3 });
    expect(Array.from(batch.inputIds)).toEqual([2, 3, 0, 2, 7, 3]);
    expect(Array.from(batch.attentionMask)).toEqual([1, 1, 0, 1, 1, 1]);
  });
});

describe('resolveStageSettings', () => {
  it('fills the defaults and names a bad setting', () => {
    expect(resolveStageSettings({ mask: 'gmt' }, 'target')).toMatchObject({
      epochs: 3,
      batchSize: 32,
      learningRate: 2e-5,
      mask: 'gmt',
      keepFraction: 0.7,
      maskedEntries: 'faithful',
    });
    expect(() => resolveStageSettings({ epochs: 0 }, 'target')).toThrow(/^target stage: epochs: /);
    expect(() => resolveStageSettings({ mask: 'lora' as never }, 'intermediate')).toThrow(/^intermediate stage: mask: /);
  });
});
