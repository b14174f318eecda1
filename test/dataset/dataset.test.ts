import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ColumnSource, parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Reservoir } from '../../src/dataset/sampling.js';
import { type DatasetOptions, readTextDataset, TEXT_SEPARATOR } from '../../src/dataset/text-dataset.js';
import { UserInputError } from '../../src/errors.js';

const REVIEWS = fileURLToPath(new URL('../fixtures/datasets/reviews.csv', import.meta.url));
const BY_TITLE_AND_TEXT: DatasetOptions = { textColumns: ['title', 'text'], labelColumn: 'label' };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'esmselect-datasets-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function file(name: string, content: string | Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join('\n');

function parquet(columns: ColumnSource[], rowGroupSize?: number): Uint8Array {
  return new Uint8Array(parquetWriteBuffer({ columnData: columns, rowGroupSize }));
}

/** The reviews fixture as plain records, read through the CSV reader itself. */
async function reviewRecords() {
  const titles = await readTextDataset(REVIEWS, { textColumns: 'title', labelColumn: 'label' });
  const texts = await readTextDataset(REVIEWS, { textColumns: 'text', labelColumn: 'score', task: 'regression' });
  return titles.texts.map((title, i) => ({ title, text: texts.texts[i], label: titles.labels[i] as string, score: texts.labels[i] as number }));
}

describe('readTextDataset', () => {
  it('reads CSV with quoted commas, quotes and newlines; joins text columns with " [SEP] "', async () => {
    const data = await readTextDataset(REVIEWS, BY_TITLE_AND_TEXT);
    expect(data.texts).toHaveLength(20);
    expect(data.rowsRead).toBe(20);
    expect(data.texts[0]).toBe('Great movie [SEP] The movie was great, the acting was excellent and the music beautiful.');
    expect(data.texts[16]).toBe(`Multi-line${TEXT_SEPARATOR}First line of the review.\nSecond line, still "quoted" text.`);
    expect(data.rows.slice(0, 3)).toEqual([1, 2, 3]);
    expect(new Set(data.labels)).toEqual(new Set(['pos', 'neg']));
  });

  it('reads the same dataset from TSV, JSONL and Parquet (several row groups)', async () => {
    const records = await reviewRecords();
    const tsv = ['title\ttext\tlabel\tscore', ...records.map((r) => [r.title, r.text.replace(/\n/g, ' '), r.label, r.score].join('\t'))].join('\n');
    const pq = parquet(
      [
        { name: 'title', data: records.map((r) => r.title), type: 'STRING' },
        { name: 'text', data: records.map((r) => r.text), type: 'STRING' },
        { name: 'label', data: records.map((r) => r.label), type: 'STRING' },
        { name: 'score', data: records.map((r) => r.score), type: 'DOUBLE' },
      ],
      6,
    );
    const csv = await readTextDataset(REVIEWS, BY_TITLE_AND_TEXT);
    for (const path of [await file('reviews.jsonl', jsonl(records)), await file('reviews.parquet', pq)]) {
      expect(await readTextDataset(path, BY_TITLE_AND_TEXT), path).toEqual({ ...csv, path });
    }
    const fromTsv = await readTextDataset(await file('reviews.tsv', tsv), BY_TITLE_AND_TEXT);
    expect(fromTsv.texts.map((t) => t.replace(/\n/g, ' '))).toEqual(csv.texts.map((t) => t.replace(/\n/g, ' ')));
    const scores = await readTextDataset(join(dir, 'reviews.parquet'), { textColumns: 'text', labelColumn: 'score', task: 'regression' });
    expect(scores.labels).toEqual(records.map((r) => r.score));
  });

  it('turns CSV class labels into numbers only when every one is numeric, and skips label -1 as hfselect does', async () => {
    const numeric = await readTextDataset(await file('numeric.csv', 'text,label\ngood,1\nbad,0\nfine,2\nnone,-1\n'), {
      textColumns: 'text',
      labelColumn: 'label',
    });
    expect(numeric.labels).toEqual([1, 0, 2]);
    expect(numeric.rows).toEqual([1, 2, 3]);
    expect(numeric.unlabelled).toBe(1);
    const typed = await readTextDataset(
      await file(
        'typed.jsonl',
        jsonl([
          { t: 'a', y: true },
          { t: 'b', y: false },
          { t: 'c', y: -1 },
        ]),
      ),
      { textColumns: 't', labelColumn: 'y' },
    );
    expect(typed.labels).toEqual([true, false]);
    const mixed = await readTextDataset(await file('mixed.csv', 'text,label\ngood,1\nbad,no\n'), { textColumns: 'text', labelColumn: 'label' });
    expect(mixed.labels).toEqual(['1', 'no']);
  });

  it('samples numExamples rows reproducibly for a seed, in file order', async () => {
    const options = { ...BY_TITLE_AND_TEXT, numExamples: 8 };
    const a = await readTextDataset(REVIEWS, { ...options, seed: 7 });
    const b = await readTextDataset(REVIEWS, { ...options, seed: 7 });
    const c = await readTextDataset(REVIEWS, { ...options, seed: 8 });
    expect(a).toEqual(b);
    expect(a.rows).toHaveLength(8);
    expect(a.rows).not.toEqual(c.rows);
    expect([...a.rows].sort((x, y) => x - y)).toEqual(a.rows);
    const all = await readTextDataset(REVIEWS, BY_TITLE_AND_TEXT);
    a.rows.forEach((row, i) => expect(a.texts[i]).toBe(all.texts[row - 1]));
    expect((await readTextDataset(REVIEWS, { ...options, numExamples: 500 })).texts).toEqual(all.texts);
  });

  it('reservoir sampling includes every item with probability k/n', () => {
    const n = 50;
    const k = 10;
    const counts = new Array<number>(n).fill(0);
    const trials = 4000;
    for (let seed = 0; seed < trials; seed++) {
      const reservoir = new Reservoir<number>(k, seed);
      for (let i = 0; i < n; i++) reservoir.offer(i);
      for (const i of reservoir.sample()) counts[i]++;
    }
    // Each count is Binomial(4000, 0.2): mean 800, standard deviation ≈ 25.
    for (const count of counts) expect(Math.abs(count - (trials * k) / n)).toBeLessThan(6 * 25);
  });
});

describe('readTextDataset errors name the row and column', () => {
  const expectError = async (path: Promise<string>, options: DatasetOptions, message: RegExp) => {
    const error = await readTextDataset(await path, options).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UserInputError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  };
  const text = { textColumns: 'text', labelColumn: 'label' } as const;

  it('missing columns', async () => {
    await expectError(
      Promise.resolve(REVIEWS),
      { textColumns: 'body', labelColumn: 'label' },
      /no column "body" \(the columns are "title", "text", "label", "score"\)/,
    );
    await expectError(file('gap.jsonl', jsonl([{ text: 'a', label: 1 }, { text: 'b' }])), text, /row 2 has no column "label"/);
    await expectError(file('gap.parquet', parquet([{ name: 'text', data: ['a', 'b'], type: 'STRING' }])), text, /no column "label"/);
  });

  it('empty and non-text texts', async () => {
    await expectError(file('empty.csv', 'text,label\ngood,1\n  ,0\n'), text, /row 2, column "text": the text is empty/);
    await expectError(
      file(
        'null.jsonl',
        jsonl([
          { text: 'a', label: 1 },
          { text: null, label: 0 },
        ]),
      ),
      text,
      /row 2, column "text": the text is missing/,
    );
    await expectError(file('number.jsonl', jsonl([{ text: 5, label: 1 }])), text, /row 1, column "text": expected text, got a number/);
  });

  it('label problems: one class, mixed types, missing, not a number for regression', async () => {
    await expectError(file('one.csv', 'text,label\na,pos\nb,pos\n'), text, /column "label" has only one class \("pos"\) among the 2 examples/);
    await expectError(
      file(
        'mixed.jsonl',
        jsonl([
          { text: 'a', label: 1 },
          { text: 'b', label: 0 },
          { text: 'c', label: '1' },
        ]),
      ),
      text,
      /row 3, column "label": mixed label types \(row 1 has a number, this row a string\)/,
    );
    await expectError(file('nolabel.csv', 'text,label\na,1\nb,\n'), text, /row 2, column "label": the label is missing/);
    await expectError(
      file('reg.csv', 'text,label\na,1.5\nb,high\n'),
      { ...text, task: 'regression' },
      /row 2, column "label": regression needs a finite number, got "high"/,
    );
    await expectError(
      file('reg.jsonl', jsonl([{ text: 'a', label: '2' }])),
      { ...text, task: 'regression' },
      /row 1, column "label": regression needs a finite number/,
    );
    await expectError(file('unlabelled.jsonl', jsonl([{ text: 'a', label: -1 }])), text, /every row is labelled -1/);
  });

  it('bytes that are not UTF-8, in CSV, JSONL and Parquet', async () => {
    const latin1 = (s: string) => Buffer.from(s, 'latin1');
    await expectError(file('latin1.csv', latin1('text,label\ngood,1\ncaf\xe9,0\n')), text, /row 2, column "text" is not valid UTF-8/);
    await expectError(
      file('latin1.jsonl', Buffer.concat([Buffer.from('{"text": "ok", "label": 1}\n{"text": "caf'), latin1('\xe9'), Buffer.from('", "label": 0}\n')])),
      text,
      /line 2, column "text", is not valid UTF-8/,
    );
    const bad = parquet([
      { name: 'text', data: [new TextEncoder().encode('ok'), latin1('caf\xe9')], type: 'BYTE_ARRAY' },
      { name: 'label', data: [1, 0], type: 'INT32' },
    ]);
    await expectError(file('latin1.parquet', bad), text, /row 2, column "text" is not valid UTF-8/);
  });

  it('a leading UTF-8 byte-order mark (Excel\'s "CSV UTF-8") is skipped in CSV, TSV and JSONL; a UTF-16 file is still refused', async () => {
    const bom = (s: string) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(s)]);
    const want = { texts: ['good', '\ufeffodd'], labels: ['pos', 'neg'] };
    for (const [name, content] of [
      ['bom.csv', 'text,label\ngood,pos\n\ufeffodd,neg\n'],
      ['bom.tsv', 'text\tlabel\ngood\tpos\n\ufeffodd\tneg\n'],
      [
        'bom.jsonl',
        jsonl([
          { text: 'good', label: 'pos' },
          { text: '\ufeffodd', label: 'neg' },
        ]),
      ],
    ]) {
      const dataset = await readTextDataset(await file(name, bom(content)), text);
      expect({ texts: dataset.texts, labels: dataset.labels }, name).toEqual(want);
    }
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('text,label\ngood,1\nbad,0\n', 'utf16le')]);
    await expectError(file('utf16.csv', utf16), text, /is not valid UTF-8/);
  });

  it('files that are not datasets', async () => {
    await expectError(Promise.resolve(join(dir, 'missing.csv')), text, /does not exist/);
    await expectError(file('data.xlsx', 'x'), text, /unknown format ".xlsx"/);
    await expectError(file('ragged.csv', 'text,label\na,1,extra\n'), text, /Invalid Record Length/);
    await expectError(file('header-only.csv', 'text,label\n'), text, /has no data rows/);
    await expectError(file('broken.jsonl', '{"text": "a", "label": 1}\n{"text": \n'), text, /line 2 is not valid JSON/);
    await expectError(file('broken.parquet', 'PAR1 not really'), text, /not a readable Parquet file/);
  });
});
