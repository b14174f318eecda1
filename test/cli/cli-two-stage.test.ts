import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddingSpaceMap } from '../../src/esm/esm.js';
import { saveHfselectEsm } from '../../src/esm/hfselect.js';
import { esmConfig } from '../helpers/pool.js';
import { spawnTs } from '../helpers/processes.js';
import { randomGenerator } from '../helpers/random.js';

const reviews = join('test', 'fixtures', 'datasets', 'reviews.csv');
/** The tiny BERT fixture's hidden size. */
const DIM = 32;
let dir: string;
let env: NodeJS.ProcessEnv;

async function cli(...args: string[]) {
  const run = spawnTs('src/cli/main.ts', args, env);
  const { code } = await run.exited;
  return { code, stdout: run.stdout(), lines: run.lines };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'esmselect-cli-two-stage-'));
  env = { ESMSELECT_DATA_DIR: join(dir, 'data') };
  for (let i = 0; i < 5; i++) {
    const rng = randomGenerator(i + 1);
    const weight = rng.normals(DIM * DIM, 0.3 / Math.sqrt(DIM));
    for (let k = 0; k < DIM; k++) weight[k * DIM + k] += 1;
    await saveHfselectEsm(
      new EmbeddingSpaceMap(esmConfig(`demo/task-${i}`, DIM, { base_model_name: 'tiny-bert' }), weight, rng.normals(DIM, 0.02)),
      join(dir, 'esms', `task-${i}`),
    );
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('esmselect esm attach-texts, index, rank --candidates', () => {
  it('indexes source texts, ranks in two stages with similarities and stage counts, and rebuilds a corrupt index', async () => {
    expect((await cli('esm', 'import', join(dir, 'esms'))).code).toBe(0);
    const attached = await cli('esm', 'attach-texts', '1', '2', '--dataset', reviews);
    expect(attached.code).toBe(0);
    expect(attached.stdout).toMatch(
      /^attached 20 of 20 texts to #1 #2 in tiny-bert \(pooler_output pooling\)\nindex tiny-bert \(pooler_output pooling\): rebuilt \(missing\)\n$/,
    );
    expect((await cli('esm', 'attach-texts', '3', '--dataset', reviews, '--text-col', 'title')).stdout).toMatch(/\+1 −0/);

    const status = JSON.parse((await cli('index', 'status', '--format', 'json')).stdout);
    expect(status).toEqual([expect.objectContaining({ space: 'tiny-bert (pooler_output pooling)', vectors: 3, points: 3, deleted: 0, state: 'ok' })]);

    const args = ['rank', '--dataset', reviews, '--text-col', 'text', '--label-col', 'label', '--model', 'tiny-bert', '--esms', 'registry', '--format', 'json'];
    const twoStage = await cli(...args, '--candidates', '1');
    expect(twoStage.code).toBe(0);
    const result = JSON.parse(twoStage.stdout);
    expect(result.stages.first).toMatchObject({ stage: 'textemb', considered: 5, indexed: 3, unindexed: 2, selected: 1 });
    expect(result.stages.second.considered).toBe(3);
    // Sources 1 and 2 were given the target's own texts: cosine 1; #3 only the titles.
    const similarities = result.ranking.map((t: { source: string; similarity: number | null }) => [t.source, t.similarity]).sort();
    expect(similarities).toEqual([
      [expect.stringMatching(/^registry#[12]$/), expect.closeTo(1, 5)],
      ['registry#4', null],
      ['registry#5', null],
    ]);
    expect(twoStage.lines).toContainEqual(
      expect.stringMatching(/^esmselect: stage 1 \(textemb\): 5 sources, 3 indexed, 2 unindexed \(no texts: passed on\); kept 1/),
    );

    const exhaustive = JSON.parse((await cli(...args, '--candidates', 'all')).stdout);
    expect(exhaustive.ranking).toHaveLength(5);
    expect(exhaustive.stages).toMatchObject({ candidates: 'all', first: null });

    const index = status[0].path as string;
    const bytes = await readFile(index);
    bytes[bytes.length - 5] ^= 0xff;
    await writeFile(index, bytes);
    expect(JSON.parse((await cli('index', 'status', '--format', 'json')).stdout)[0].state).toMatch(/fails its checksum/);
    const repaired = await cli(...args, '--candidates', '2');
    expect(repaired.lines).toContainEqual(
      expect.stringMatching(/^esmselect: note: the index of tiny-bert \(pooler_output pooling\) was rebuilt: the index file fails its checksum/),
    );
    expect(JSON.parse((await cli('index', 'status', '--format', 'json')).stdout)[0].state).toBe('ok');

    const rebuilt = await cli('index', 'rebuild', '--m', '8');
    expect(rebuilt.stdout).toMatch(
      /^rebuilt tiny-bert \(pooler_output pooling\): 3 vectors, M 8, efConstruction 200\nrebuilt 1 index; sketched 0 ESM weight files\n$/,
    );

    // The first attach registered reviews.csv as dataset #1: its id brings the file and its columns.
    const fromRegistered = await cli('esm', 'attach-texts', '4', '--dataset', '1');
    expect(fromRegistered.stdout).toMatch(
      /^attached 20 of 20 texts to #4 in tiny-bert \(pooler_output pooling\), embeddings from the cache\nindex .*: \+1 −0\n$/,
    );
  });

  it('says which input is wrong, in one line', async () => {
    const missing = await cli('esm', 'attach-texts', '99', '--dataset', reviews);
    expect(missing.code).toBe(2);
    expect(missing.lines).toEqual(['esmselect: esm: there is no ESM #99 in the registry']);
    expect((await cli('esm', 'attach-texts', '1', '--dataset', '42')).lines).toEqual(['esmselect: dataset: there is no dataset #42 in the registry']);
    // The former spelling still runs the command, and says it is deprecated.
    const former = await cli('source', 'attach-texts', '99', '--dataset', reviews);
    expect(former.code).toBe(2);
    expect(former.lines).toEqual([
      'esmselect: "source attach-texts" is deprecated; use "esm attach-texts"',
      'esmselect: esm: there is no ESM #99 in the registry',
    ]);
    const badK = await cli('rank', '--embeddings', 'x.npy', '--esms', 'registry', '--candidates', 'many');
    expect(badK.code).not.toBe(0);
    expect(badK.lines.join('\n')).toMatch(/--candidates.*expected a positive integer or "all"/);
  });
});
