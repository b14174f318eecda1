import { parquetWriteBuffer } from 'hyparquet-writer';

/** A labelled text example as a Hub dataset holds one (ClassLabel integers). */
export interface Example {
  readonly text: string;
  readonly label: number;
}

/** Examples as a Parquet file with a `text` (STRING) and a `label` (INT64) column, as the dataset viewer converts them. */
export function parquetOf(examples: readonly Example[]): Buffer {
  return Buffer.from(
    parquetWriteBuffer({
      columnData: [
        { name: 'text', data: examples.map((e) => e.text), type: 'STRING' },
        { name: 'label', data: examples.map((e) => BigInt(e.label)), type: 'INT64' },
      ],
    }),
  );
}

const WORDS = ['great', 'awful', 'fine', 'broken', 'lovely', 'slow', 'cheap', 'solid'];

/** `count` deterministic reviews with two classes (the tiny models' vocabulary is small; these words are in it or split into pieces). */
export function reviews(count: number, offset = 0): Example[] {
  return Array.from({ length: count }, (_, k) => {
    const i = k + offset;
    return { text: `review ${i}: the product is ${WORDS[i % WORDS.length]} and ${WORDS[(i * 3 + 1) % WORDS.length]}`, label: i % 2 };
  });
}
