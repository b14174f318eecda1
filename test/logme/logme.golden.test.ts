import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromRows } from '../../src/linalg/matrix.js';
import { logme } from '../../src/logme/logme.js';
import { encodeLabels } from '../../src/task/labels.js';
import { referenceDir } from '../helpers/reference.js';

interface GoldenCase {
  name: string;
  regression: boolean;
  features: number[][];
  labels: unknown[];
  expected_score: number;
}

const dir = join(referenceDir, 'logme');
const cases = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as GoldenCase);

describe('LogME reproduces the reference implementation', () => {
  it('has golden cases to check', () => expect(cases.length).toBeGreaterThanOrEqual(10));
  for (const c of cases) {
    it(c.name, () => {
      const score = logme(fromRows(c.features), encodeLabels(c.labels, c.regression ? 'regression' : 'classification'));
      expect(Math.abs(score - c.expected_score) / Math.abs(c.expected_score)).toBeLessThanOrEqual(1e-6);
    });
  }
});
