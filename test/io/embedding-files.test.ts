import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEmbeddingFile } from '../../src/io/embedding-files.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'esmselect-embedding-files-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('JSON Lines embeddings', () => {
  it('are read as the dataset reader reads JSON Lines: a leading byte-order mark dropped, CRLF and blank lines allowed, bad UTF-8 refused with its line', async () => {
    const bom = join(dir, 'bom.jsonl');
    await writeFile(
      bom,
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"embedding": [1, 2], "label": "x"}\r\n\n{"embedding": [3, 4], "label": "y"}\r\n')]),
    );
    const read = await readEmbeddingFile(bom);
    expect({ rows: read.embeddings.rows, dim: read.embeddings.dim, data: Array.from(read.embeddings.data), labels: read.labels }).toEqual({
      rows: 2,
      dim: 2,
      data: [1, 2, 3, 4],
      labels: ['x', 'y'],
    });

    const latin1 = join(dir, 'latin1.jsonl');
    await writeFile(latin1, Buffer.concat([Buffer.from('{"embedding": [1, 2], "label": "caf'), Buffer.from([0xe9]), Buffer.from('"}\n')]));
    await expect(readEmbeddingFile(latin1)).rejects.toThrow(`embeddings: ${latin1}: line 1, column "label", is not valid UTF-8 (re-save the file as UTF-8)`);
  });
});
