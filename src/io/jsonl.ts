import { byteLines, strictUtf8Or } from './utf8-files.js';

/** Which fields of a JSONL line hold the bad bytes: decoded leniently, they show U+FFFD. */
function badUtf8Columns(bytes: Uint8Array): string {
  try {
    const value = JSON.parse(new TextDecoder('utf-8').decode(bytes)) as Record<string, unknown>;
    const columns = Object.entries(value).filter(([, v]) => typeof v === 'string' && v.includes('\uFFFD'));
    return columns.length ? `, column ${columns.map(([k]) => `"${k}"`).join(', ')},` : '';
  } catch {
    return '';
  }
}

/** A non-blank line of a JSON Lines file: its number (from 1) and its JSON value. */
export interface JsonLine {
  readonly line: number;
  readonly value: unknown;
}

/**
 * The values of a JSON Lines file, line by line, blank lines skipped: strict UTF-8 after a leading
 * byte-order mark, as Python's "utf-8-sig" reads it. A line that is not UTF-8 or not JSON is passed
 * to `fail`, which throws the reader's own error.
 */
export async function* jsonLines(path: string, fail: (problem: string) => never): AsyncGenerator<JsonLine> {
  let line = 0;
  for await (const bytes of byteLines(path)) {
    line++;
    const text = strictUtf8Or(bytes);
    if (text === undefined) fail(`line ${line}${badUtf8Columns(bytes)} is not valid UTF-8 (re-save the file as UTF-8)`);
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      fail(`line ${line} is not valid JSON`);
    }
    yield { line, value };
  }
}
