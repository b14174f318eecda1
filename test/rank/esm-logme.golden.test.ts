import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadNativeAddon } from '../../src/native/addon.js';
import { rank } from '../../src/rank/rank.js';
import { type ScorerName, selectScorer } from '../../src/rank/scorers.js';
import { referenceDir } from '../helpers/reference.js';

const pool = join(referenceDir, 'esm-logme', 'small-pool');
const anchor = JSON.parse(readFileSync(join(referenceDir, 'esm-logme', 'small-pool.anchor.json'), 'utf8')) as {
  scores: Record<string, number>;
  ranking: string[];
};

// The automatic choice, and every scorer explicitly (tfjs on the CPU backend; it runs the same code as on the GPU).
process.env.ESMSELECT_BACKEND ??= 'cpu';
const scorers: (ScorerName | undefined)[] = [undefined, 'typescript', 'tfjs', ...('addon' in loadNativeAddon() ? (['native'] as const) : [])];

for (const name of scorers) {
  describe(`ESM-LogME ranking reproduces the reference on its small pool (scorer: ${name ?? 'automatic'})`, async () => {
    const scorer = name ? (await selectScorer({ scorer: name })).scorer : undefined;
    const result = await rank({ embeddings: join(pool, 'target'), esms: [join(pool, 'esms')], scorer });

    it('scores every ESM (including the legacy 0.1.0 and the F16 one) within 1e-6', () => {
      expect(result.rejected).toEqual([]);
      expect(result.ranking).toHaveLength(Object.keys(anchor.scores).length);
      for (const task of result.ranking) {
        const expected = anchor.scores[task.task_id];
        expect(Math.abs(task.score - expected) / Math.abs(expected)).toBeLessThanOrEqual(1e-6);
      }
    });

    it('ranks in the same order', () => {
      expect(result.ranking.map((t) => t.task_id)).toEqual(anchor.ranking);
      expect(result.ranking.map((t) => t.rank)).toEqual(anchor.ranking.map((_, i) => i + 1));
    });

    it('carries the ESM config fields into the ranking', () => {
      const best = result.ranking[0];
      const config = JSON.parse(readFileSync(join(best.source, 'config.json'), 'utf8'));
      expect(best).toMatchObject({
        task_id: config.task_id,
        task_subset: config.task_subset,
        text_column: config.text_column,
        label_column: config.label_column,
        task_split: config.task_split,
        num_examples: config.num_examples,
      });
    });
  });
}
