import { describe, expect, it } from 'vitest';
import { encodeClassLabels, encodeRegressionTargets, labelColumns } from '../../src/task/labels.js';

describe('label encoding', () => {
  it('maps string labels to codes in string order', () => {
    const labels = encodeClassLabels(['pos', 'neg', 'neutral', 'neg']);
    expect(labels.classes).toEqual(['neg', 'neutral', 'pos']);
    expect(Array.from(labels.codes)).toEqual([2, 0, 1, 0]);
  });

  it('maps sparse integers in numeric order (not string order)', () => {
    const labels = encodeClassLabels([10, 2, 7, 2]);
    expect(labels.classes).toEqual([2, 7, 10]);
    expect(Array.from(labels.codes)).toEqual([2, 0, 1, 0]);
  });

  it('builds one-vs-rest columns', () => {
    const columns = labelColumns(encodeClassLabels([true, false, true]));
    expect(columns.map((c) => Array.from(c))).toEqual([
      [0, 1, 0],
      [1, 0, 1],
    ]);
  });

  it('rejects a single class, mixed types, empty lists and missing values', () => {
    expect(() => encodeClassLabels(['a', 'a'])).toThrow(/only one class/);
    expect(() => encodeClassLabels([1, '1'])).toThrow(/mixed label types.*row 1/);
    expect(() => encodeClassLabels([])).toThrow(/empty/);
    expect(() => encodeClassLabels([0, null, 1])).toThrow(/row 1/);
  });

  it('encodes multi-target regression and rejects ragged rows', () => {
    const labels = encodeRegressionTargets([
      [1, 2],
      [3, 4],
    ]);
    expect(labels.targets).toBe(2);
    expect(labelColumns(labels).map((c) => Array.from(c))).toEqual([
      [1, 3],
      [2, 4],
    ]);
    expect(() => encodeRegressionTargets([[1, 2], [3]])).toThrow(/row 1 has 1 targets, expected 2/);
    expect(() => encodeRegressionTargets([1, NaN])).toThrow(/row 1 is not a finite number/);
  });
});
