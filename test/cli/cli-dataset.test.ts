import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embedDataset } from '../../src/embed/embed-dataset.js';
import { rank } from '../../src/rank/rank.js';
import type { RankingResult } from '../../src/rank/ranking.js';
import { writeRandomPool } from '../helpers/pool.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MODELS = join(ROOT, 'models');
const REVIEWS = join(ROOT, 'test', 'fixtures', 'datasets', 'reviews.csv');
const DATASET = ['--dataset', REVIEWS, '--text-col', 'title', 'text', '--label-col', 'label'];

let dir: string;
let pool: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'esmselect-cli-'));
  pool = join(dir, 'esms');
  // ESMs in the tiny models' 32-dimensional space.
  await writeRandomPool(pool, 6, 32, 11);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** The CLI as a user runs it, offline: no ESMSELECT_ALLOW_REMOTE, its own data directory. */
function esmselect(...args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, ESMSELECT_DATA_DIR: join(dir, 'data'), ESMSELECT_MODELS_DIR: MODELS };
  delete env.ESMSELECT_ALLOW_REMOTE;
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), ...args], { cwd: ROOT, env, encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('esmselect rank --dataset', () => {
  it('embeds with the tiny model and ranks the pool end to end; the second run uses the cache', async () => {
    const first = esmselect('rank', ...DATASET, '--model', 'tiny-bert', '--esms', pool, '--format', 'json');
    expect(first.stderr).toContain('embedded: 20 × 32, model tiny-bert, pooling pooler_output, max length 128');
    expect(first.stderr).toContain('note: ESMs listed here were trained against test/encoder, not tiny-bert');
    expect(first.status).toBe(0);
    const result = JSON.parse(first.stdout) as RankingResult;
    expect(result.ranking).toHaveLength(6);
    expect(result.target).toMatchObject({ n: 20, d: 32, task: 'classification', classes: ['neg', 'pos'] });

    // The library path: the same dataset embedded and ranked through the API gives the same scores.
    const embedded = await embedDataset(REVIEWS, { textColumns: ['title', 'text'], labelColumn: 'label', model: 'tiny-bert', modelsDir: MODELS });
    const direct = await rank({ embeddings: embedded.embeddings, labels: embedded.dataset.labels, esms: [pool] });
    expect(result.ranking.map((t) => [t.task_id, t.score])).toEqual(direct.ranking.map((t) => [t.task_id, t.score]));

    const second = esmselect('rank', ...DATASET, '--model', 'tiny-bert', '--esms', pool, '--format', 'json');
    expect(second.status).toBe(0);
    expect(second.stderr).toContain('embeddings from the cache');
    expect(JSON.parse(second.stdout).ranking).toEqual(result.ranking);
  });

  it('embed --out writes what rank --embeddings reads, with the pooling recorded', async () => {
    const out = join(dir, 'reviews.npy');
    const embedded = esmselect('embed', ...DATASET, '--model', 'tiny-sentence-bert', '--out', out);
    expect(embedded.stderr).toContain(`rank with --embeddings ${out} --labels ${out}.labels.json`);
    expect(embedded.status).toBe(0);
    const sidecar = JSON.parse(await readFile(`${out}.json`, 'utf8'));
    expect(sidecar).toMatchObject({ n: 20, d: 32, model: 'tiny-sentence-bert', pooling: 'mean', max_length: 128, task: 'classification' });
    const fromFile = esmselect('rank', '--embeddings', out, '--labels', `${out}.labels.json`, '--esms', pool, '--format', 'json');
    const fromDataset = esmselect('rank', ...DATASET, '--model', 'tiny-sentence-bert', '--esms', pool, '--format', 'json');
    expect(fromFile.status).toBe(0);
    expect(JSON.parse(fromFile.stdout).ranking).toEqual(JSON.parse(fromDataset.stdout).ranking);

    const jsonl = join(dir, 'scores.jsonl');
    expect(
      esmselect('embed', '--dataset', REVIEWS, '--text-col', 'text', '--label-col', 'score', '--regression', '--model', 'tiny-distilbert', '--out', jsonl)
        .status,
    ).toBe(0);
    const regression = esmselect('rank', '--embeddings', jsonl, '--regression', '--esms', pool, '--format', 'json');
    expect(regression.status).toBe(0);
    expect(JSON.parse(regression.stdout).target).toMatchObject({ n: 20, d: 32, task: 'regression' });
  });

  it('reports bad input in one line with exit status 2', () => {
    const cases: [string[], RegExp][] = [
      [['rank', ...DATASET, '--esms', pool], /^esmselect: --model is required with --dataset\n$/],
      [
        ['rank', ...DATASET, '--model', 'tiny-bert', '--embeddings', 'x.npy', '--esms', pool],
        /^esmselect: give the target as either --embeddings or --dataset/,
      ],
      [['rank', '--dataset', REVIEWS, '--text-col', 'body', '--label-col', 'label', '--model', 'tiny-bert', '--esms', pool], /no column "body"/],
      [['rank', ...DATASET, '--model', 'bert-base-multilingual-uncased', '--esms', pool], /bert-base-multilingual-uncased: .*config\.json is missing/],
      [['rank', ...DATASET, '--model', '../models/tiny-bert', '--esms', pool], /is not a model name/],
      [['embed', ...DATASET, '--model', 'tiny-bert', '--out', join(dir, 'x.csv')], /--out: .*unknown format/],
    ];
    for (const [args, message] of cases) {
      const run = esmselect(...args);
      expect(run.stderr, args.join(' ')).toMatch(message);
      expect(run.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(run.status, args.join(' ')).toBe(2);
    }
  });
});
