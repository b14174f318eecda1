import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DatasetOptions, readTextDataset } from '../../src/dataset/text-dataset.js';
import type { HubConfig } from '../../src/hub/config.js';
import { parquetOf, reviews } from '../helpers/hub/parquet.js';
import { sha256 } from '../helpers/hub/repos.js';
import { addParquetConversion } from '../helpers/hub/seed.js';
import { type HubStandin, startHubStandin } from '../helpers/hub/standin.js';

let hub: HubStandin;
let scratch: string;
const FIRST = reviews(15);
const SECOND = reviews(15, 15);

beforeAll(async () => {
  hub = await startHubStandin({ treePageSize: 2 });
  scratch = await mkdtemp(join(tmpdir(), 'esmselect-hub-datasets-'));
  // A split converted into two files, another subset with two splits, a partial conversion.
  addParquetConversion(hub, 'org/reviews', 'default', 'train', [parquetOf(FIRST), parquetOf(SECOND)]);
  addParquetConversion(hub, 'org/reviews', 'other', 'validation', [parquetOf(reviews(6, 100))]);
  addParquetConversion(hub, 'org/reviews', 'other', 'test', [parquetOf(reviews(6, 200))]);
  addParquetConversion(hub, 'org/two-subsets', 'plain_text', 'partial-train', [parquetOf(reviews(8))]);
  addParquetConversion(hub, 'org/two-subsets', 'extra', 'train', [parquetOf(reviews(8, 50))]);
  hub.store.rename('dataset', 'reviews', 'org/reviews');
  hub.store.create('dataset', 'org/not-converted');
});
afterAll(async () => {
  await hub.close();
  await rm(scratch, { recursive: true, force: true });
});

const online = (): HubConfig => ({ endpoint: hub.endpoint, offline: false });

async function read(uri: string, dataDir: string, extra: Partial<DatasetOptions> = {}, config = online()) {
  return readTextDataset(uri, {
    textColumns: 'text',
    labelColumn: 'label',
    ...extra,
    hub: { dataDir, hubConfig: config, fetchOptions: { baseDelayMs: 1 }, ...extra.hub },
  });
}

const downloads = (from: number) => hub.requests.slice(from).filter((r) => r.server === 'cdn' || r.url.includes('/resolve/'));

describe('Hub datasets: hf://datasets/ORG/NAME', () => {
  it('reads the Parquet conversion of the train split, rows numbered through its files; a second read downloads nothing', async () => {
    const dataDir = await mkdtemp(join(scratch, 'data-'));
    const dataset = await read('hf://datasets/org/reviews', dataDir);
    expect(dataset.texts).toEqual([...FIRST, ...SECOND].map((e) => e.text));
    expect(dataset.labels).toEqual([...FIRST, ...SECOND].map((e) => e.label));
    expect(dataset.rows).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const repo = hub.store.get('dataset', 'org/reviews')!;
    expect(dataset.hub).toMatchObject({
      dataset: 'org/reviews',
      subset: 'default',
      split: 'train',
      revision: repo.branches.get('refs/convert/parquet'),
      partial: false,
      files: 2,
    });
    expect(dataset.hub!.downloaded).toBeGreaterThan(0);
    // Kept by checksum under the data dir's cache.
    const blobs = await readdir(join(dataDir, 'cache', 'hub', 'blobs'));
    expect(blobs.sort()).toEqual([`${sha256(parquetOf(FIRST))}.parquet`, `${sha256(parquetOf(SECOND))}.parquet`].sort());

    const before = hub.requests.length;
    const again = await read('hf://datasets/org/reviews', dataDir);
    expect(again.texts).toEqual(dataset.texts);
    expect(again.hub!.downloaded).toBe(0);
    expect(downloads(before)).toEqual([]);
  });

  it('samples --num-examples with --seed exactly as from the same rows in a local Parquet file', async () => {
    const dataDir = await mkdtemp(join(scratch, 'data-'));
    const local = join(scratch, 'reviews.parquet');
    await writeFile(local, parquetOf([...FIRST, ...SECOND]));
    const sample = { numExamples: 10, seed: 7 };
    const fromHub = await read('hf://datasets/org/reviews', dataDir, sample);
    const fromFile = await readTextDataset(local, { textColumns: 'text', labelColumn: 'label', ...sample });
    expect(fromHub.texts).toHaveLength(10);
    expect(fromHub.texts).toEqual(fromFile.texts);
    expect(fromHub.rows).toEqual(fromFile.rows);
  });

  it('chooses subsets and splits, and refuses unknown ones listing those there are', async () => {
    const dataDir = await mkdtemp(join(scratch, 'data-'));
    expect((await read('hf://datasets/org/reviews', dataDir, { subset: 'other', split: 'test' })).texts).toEqual(reviews(6, 200).map((e) => e.text));
    await expect(read('hf://datasets/org/reviews', dataDir, { subset: 'other' })).rejects.toThrow(
      'split: hf://datasets/org/reviews (subset other) has no "train" split; give one of "test", "validation"',
    );
    await expect(read('hf://datasets/org/reviews', dataDir, { subset: 'nope' })).rejects.toThrow(
      'subset: hf://datasets/org/reviews has no subset "nope"; its subsets are "default", "other"',
    );
    await expect(read('hf://datasets/org/reviews', dataDir, { split: 'dev' })).rejects.toThrow(
      'split: hf://datasets/org/reviews (subset default) has no split "dev"; its splits are "train"',
    );
    await expect(read('hf://datasets/org/two-subsets', dataDir)).rejects.toThrow(
      'subset: hf://datasets/org/two-subsets has several subsets; give one of "extra", "plain_text"',
    );
    const partial = await read('hf://datasets/org/two-subsets', dataDir, { subset: 'plain_text' });
    expect(partial.hub).toMatchObject({ subset: 'plain_text', split: 'train', partial: true });
    // The old name of a renamed dataset is followed.
    expect((await read('hf://datasets/reviews', dataDir)).texts).toHaveLength(30);
  });

  it('says in one line what is wrong: no such dataset, no Parquet conversion, not a Hub dataset id, a subset given for a file', async () => {
    const dataDir = await mkdtemp(join(scratch, 'data-'));
    await expect(read('hf://datasets/nobody/nothing', dataDir)).rejects.toThrow(
      'dataset: hf://datasets/nobody/nothing: no such dataset on the Hub (a private or gated repo needs HF_TOKEN)',
    );
    await expect(read('hf://datasets/org/not-converted', dataDir)).rejects.toThrow(
      'dataset: hf://datasets/org/not-converted has no Parquet conversion on the Hub (refs/convert/parquet',
    );
    await expect(read('hf://datasets/../../etc', dataDir)).rejects.toThrow('is not a Hub dataset id');
    await expect(read('hf://models/org/reviews', dataDir)).rejects.toThrow('a Hub dataset is written hf://datasets/ORG/NAME');
    await expect(readTextDataset(join(scratch, 'reviews.parquet'), { textColumns: 'text', labelColumn: 'label', split: 'train' })).rejects.toThrow(
      'split: goes with a Hub dataset',
    );
  });

  it('reads the cache with HF_HUB_OFFLINE=1 and refuses in one line what it does not hold', async () => {
    const dataDir = await mkdtemp(join(scratch, 'data-'));
    const offline: HubConfig = { endpoint: hub.endpoint, offline: true };
    await expect(read('hf://datasets/org/reviews', dataDir, {}, offline)).rejects.toThrow(
      'reading hf://datasets/org/reviews (its Parquet conversion is not in the cache) needs the Hugging Face Hub, but HF_HUB_OFFLINE is set',
    );
    await read('hf://datasets/org/reviews', dataDir);
    const before = hub.requests.length;
    expect((await read('hf://datasets/org/reviews', dataDir, {}, offline)).texts).toHaveLength(30);
    await expect(read('hf://datasets/org/reviews', dataDir, { subset: 'other', split: 'test' }, offline)).rejects.toThrow(
      /other\/test\/0000\.parquet is not in the cache\) needs the Hugging Face Hub, but HF_HUB_OFFLINE is set/,
    );
    expect(hub.requests.length).toBe(before);
  });

  it('reads a pinned commit of the conversion again after the dataset changed', async () => {
    const dataDir = await mkdtemp(join(scratch, 'data-'));
    addParquetConversion(hub, 'org/changing', 'default', 'train', [parquetOf(reviews(6))]);
    const first = await read('hf://datasets/org/changing', dataDir);
    const repo = hub.store.get('dataset', 'org/changing')!;
    hub.store.commit(repo, 'refs/convert/parquet', { title: 'new data', files: { 'default/train/0000.parquet': parquetOf(reviews(6, 500)) } });
    const newest = await read('hf://datasets/org/changing', dataDir);
    expect(newest.texts).toEqual(reviews(6, 500).map((e) => e.text));
    expect(newest.hub!.revision).not.toBe(first.hub!.revision);
    const pinned = await read('hf://datasets/org/changing', dataDir, { hub: { revision: first.hub!.revision } });
    expect(pinned.texts).toEqual(first.texts);
  });
});

describe('Hub datasets: hostile conversions', () => {
  it('refuses a listing that names a file outside the repo, before using any of it', async () => {
    const dataDir = await mkdtemp(join(scratch, 'data-'));
    addParquetConversion(hub, 'evil/escape', 'default', 'train', [parquetOf(reviews(4))]);
    const repo = hub.store.get('dataset', 'evil/escape')!;
    hub.store.commit(repo, 'refs/convert/parquet', { title: 'escape', files: { '../../outside/train/0000.parquet': parquetOf(reviews(4)) } });
    await expect(read('hf://datasets/evil/escape', dataDir)).rejects.toThrow(
      'the Hub lists a file "../../outside/train/0000.parquet", which is not a plain relative path; refused',
    );
    expect(await readdir(join(dataDir, 'cache', 'hub', 'blobs')).catch(() => [])).toEqual([]);
  });

  it('refuses a file that does not match the sha256 the Hub announces, and caches nothing of it', async () => {
    const dataDir = await mkdtemp(join(scratch, 'data-'));
    const bytes = parquetOf(reviews(5, 900));
    addParquetConversion(hub, 'evil/liar', 'default', 'train', [bytes]);
    hub.corrupted.add(sha256(bytes));
    try {
      await expect(read('hf://datasets/evil/liar', dataDir)).rejects.toThrow(
        /default\/train\/0000\.parquet does not match the sha256 the Hub announces .*; refused/,
      );
    } finally {
      hub.corrupted.delete(sha256(bytes));
    }
    expect(await readdir(join(dataDir, 'cache', 'hub', 'blobs'))).toEqual([]);
  });

  it('refuses a split larger than the limit before downloading it', async () => {
    const dataDir = await mkdtemp(join(scratch, 'data-'));
    const saved = process.env.ESMSELECT_HUB_MAX_DATASET_MB;
    process.env.ESMSELECT_HUB_MAX_DATASET_MB = '0.001';
    const before = hub.requests.length;
    try {
      await expect(read('hf://datasets/org/reviews', dataDir)).rejects.toThrow(
        /^dataset: hf:\/\/datasets\/org\/reviews \(default\/train\) is \d+ KB of Parquet; esmselect reads at most 1 KB \(ESMSELECT_HUB_MAX_DATASET_MB raises it\)$/,
      );
    } finally {
      if (saved === undefined) delete process.env.ESMSELECT_HUB_MAX_DATASET_MB;
      else process.env.ESMSELECT_HUB_MAX_DATASET_MB = saved;
    }
    expect(downloads(before)).toEqual([]);
  });

  it('names the Hub dataset, never the cache path, in row errors', async () => {
    const dataDir = await mkdtemp(join(scratch, 'data-'));
    addParquetConversion(hub, 'org/bad', 'default', 'train', [
      parquetOf(reviews(3)),
      parquetOf([
        { text: 'fine', label: 1 },
        { text: ' ', label: 0 },
      ]),
    ]);
    await expect(read('hf://datasets/org/bad', dataDir)).rejects.toThrow(
      /^dataset: hf:\/\/datasets\/org\/bad \(subset default, split train\): row 5, column "text": the text is empty$/,
    );
  });
});
