import { createReadStream, type ReadStream } from 'node:fs';
import { open } from 'node:fs/promises';

/** Reading text files as UTF-8 strictly, as the dataset and embedding readers do. */

/** ignoreBOM: a U+FEFF inside the data is data; only the file's leading one is dropped (readBytes). */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The UTF-8 byte-order mark, which Excel's "CSV UTF-8" and Notepad write at the start of a file. */
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * The file's bytes after a leading UTF-8 byte-order mark, as Python's "utf-8-sig" reads them. (The
 * CSV parser's own `bom` option would switch it to decoding fields leniently, and a UTF-16 mark to
 * UTF-16; a UTF-16 file stays refused as not UTF-8.)
 */
export async function readBytes(path: string): Promise<ReadStream> {
  const handle = await open(path, 'r');
  let start = 0;
  try {
    const { bytesRead, buffer } = await handle.read(Buffer.alloc(UTF8_BOM.length), 0, UTF8_BOM.length, 0);
    if (bytesRead === UTF8_BOM.length && buffer.equals(UTF8_BOM)) start = UTF8_BOM.length;
  } finally {
    await handle.close();
  }
  return createReadStream(path, { start });
}

/** The text of UTF-8 bytes, or undefined when they are not UTF-8. */
export function strictUtf8Or(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Lines as bytes: splitting on 0x0A is safe before decoding, since UTF-8 never uses it inside a character. */
export async function* byteLines(path: string): AsyncGenerator<Uint8Array> {
  let pending = Buffer.alloc(0);
  for await (const chunk of (await readBytes(path)) as AsyncIterable<Buffer>) {
    let buffer = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let newline: number;
    while ((newline = buffer.indexOf(0x0a)) >= 0) {
      yield buffer.subarray(0, newline);
      buffer = buffer.subarray(newline + 1);
    }
    pending = Buffer.from(buffer);
  }
  if (pending.length) yield pending;
}
