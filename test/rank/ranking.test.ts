import { describe, expect, it } from 'vitest';
import type { PoolEntry } from '../../src/esm/pool.js';
import { type EsmScorer, rankPool } from '../../src/rank/ranking.js';
import { prepareTarget } from '../../src/rank/target.js';
import { encodeClassLabels } from '../../src/task/labels.js';
import { randomEsm } from '../helpers/pool.js';
import { randomGenerator } from '../helpers/random.js';

const d = 6;
const target = prepareTarget({ rows: 30, dim: d, data: randomGenerator(3).normals(30 * d) }, encodeClassLabels(Array.from({ length: 30 }, (_, i) => i % 2)));

async function* pool(count: number, log: string[]): AsyncGenerator<PoolEntry> {
  for (let i = 0; i < count; i++) {
    log.push(`read ${i}`);
    if (i === 3) yield { source: `bad-${i}`, problem: 'unreadable' };
    else yield { source: `esm-${i}`, esm: randomEsm(`task-${i}`, d, i) };
  }
}

/** Scores after a delay (as the native scorer does off the event loop), logging when it starts and ends. */
function slowScorer(log: string[], fail = false): EsmScorer {
  let running = 0;
  return {
    name: 'slow',
    description: 'slow',
    async score(_, esms) {
      running++;
      expect(running).toBe(1);
      log.push(`score ${esms.map((e) => e.taskId).join(',')}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
      running--;
      log.push('scored');
      if (fail) throw new Error('scorer failed');
      return esms.map((_, i) => i);
    },
  };
}

describe('rankPool', () => {
  it('reads the next batch while the previous one is scored, one scoring call at a time', async () => {
    const log: string[] = [];
    const progress: number[] = [];
    const result = await rankPool(target, pool(7, log), 7, { scorer: slowScorer(log), batchSize: 2, onProgress: ({ done }) => progress.push(done) });
    expect(result.scored).toBe(6);
    expect(result.rejected).toEqual([{ source: 'bad-3', problem: 'unreadable' }]);
    // Entries 2 and 3 are read while the first batch is still being scored.
    expect(log.indexOf('read 2')).toBeLessThan(log.indexOf('scored'));
    expect(log.filter((l) => l.startsWith('score ')).length).toBe(3);
    expect(progress.at(-1)).toBe(7);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
  });

  it('passes a scoring failure on instead of leaving it unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await expect(rankPool(target, pool(7, []), 7, { scorer: slowScorer([], true), batchSize: 2 })).rejects.toThrow('scorer failed');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
