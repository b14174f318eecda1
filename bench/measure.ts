/**
 * One measurement of esmselect on an anchor pool, run in its own process so that its peak RSS is its
 * own: `node --import tsx bench/measure.ts POOL preloaded|streamed`. Prints one JSON line (OurRun).
 *
 * - preloaded: every ESM is read into memory first, as the reference harness does, and the clock
 *   covers target preparation plus scoring: the counterpart of the reference's seconds_total.
 * - streamed: `rank()` from the files, reading ESMs batch by batch while scoring: end-to-end wall time.
 */
import { join } from 'node:path';
import { createProgress } from '../src/cli/progress.js';
import { findEsmFolders, type PoolEntry, readEsmFolders } from '../src/esm/pool.js';
import { readEmbeddingFile } from '../src/io/embedding-files.js';
import { rank } from '../src/rank/rank.js';
import { prepareTargetFor, type RankingResult, rankPool } from '../src/rank/ranking.js';
import { selectScorer } from '../src/rank/scorers.js';
import { encodeLabels } from '../src/task/labels.js';
import { MEASURE_MODES, type MeasureMode, type OurRun } from './runs.js';

async function* fromArray(entries: readonly PoolEntry[]): AsyncGenerator<PoolEntry> {
  yield* entries;
}

async function measure(pool: string, mode: MeasureMode): Promise<OurRun> {
  const { scorer, description } = await selectScorer();
  const progress = createProgress(`${pool}: scoring`, 'ESMs');
  const onProgress = ({ done, total }: { done: number; total: number }) => progress.update(done, total);
  let result: RankingResult;
  let started: number;
  if (mode === 'preloaded') {
    const file = await readEmbeddingFile(join(pool, 'target'));
    if (!file.labels) throw new Error(`${pool}/target carries no labels`);
    const labels = encodeLabels(file.labels, file.task ?? 'classification');
    const entries: PoolEntry[] = [];
    for await (const entry of readEsmFolders(await findEsmFolders([join(pool, 'esms')]))) entries.push(entry);
    started = performance.now();
    const target = await prepareTargetFor(scorer, file.embeddings, labels);
    result = await rankPool(target, fromArray(entries), entries.length, { scorer, onProgress });
  } else {
    started = performance.now();
    result = await rank({ embeddings: join(pool, 'target'), esms: [join(pool, 'esms')], scorer, onProgress });
  }
  const seconds = (performance.now() - started) / 1000;
  progress.stop();
  return {
    mode,
    scorer: description,
    seconds,
    scored: result.scored,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    scores: Object.fromEntries(result.ranking.map((t) => [t.task_id, t.score])),
    ranking: result.ranking.map((t) => t.task_id),
  };
}

const [pool, mode] = process.argv.slice(2);
if (!pool || !(MEASURE_MODES as readonly string[]).includes(mode)) {
  process.stderr.write(`usage: measure.js POOL ${MEASURE_MODES.join('|')}\n`);
  process.exit(2);
}
process.stdout.write(`${JSON.stringify(await measure(pool, mode as MeasureMode))}\n`);
