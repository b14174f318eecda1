/**
 * Derives the shipped WordNet corpus (corpora/wordnet/) from WordNet 3.0's database files as Debian's
 * wordnet-base installs them (`apt-get install wordnet-base`):
 *
 *   npx tsx pretrain/derive-corpus.ts [--wordnet DIR] [--check]
 *
 * writes corpora/wordnet/wordnet-3.0.tsv.br (one row per synset, see study/wordnet/corpus.ts) and
 * corpora/wordnet/LICENSE (WordNet's licence, from the data files' own header). `--check` writes
 * nothing and says whether the shipped corpus is what the database gives. DIR defaults to
 * $WNSEARCHDIR, else /usr/share/wordnet. Deterministic: the same database gives the same bytes.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';
import { writeFileAtomic } from '../src/io/atomic.js';
import { CORPUS_FILE, formatCorpus, parseCorpus } from '../study/wordnet/corpus.js';
import { DATA_FILES, type DataLine, parseDataLine, toSynsets } from './wordnet-data.js';

/** The licence header of a data file: its lines start with two spaces and a line number. */
function licenceText(dataFile: string): string {
  const lines = dataFile.split('\n').filter((line) => line.startsWith('  '));
  return `${lines
    .map((line) => line.replace(/^ {2}\d+ ?/, '').trimEnd())
    .join('\n')
    .trim()}\n`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { wordnet: { type: 'string' }, check: { type: 'boolean', default: false } } });
  const dir = values.wordnet ?? process.env.WNSEARCHDIR ?? '/usr/share/wordnet';
  const lines: { pos: (typeof DATA_FILES)[number]['pos']; line: DataLine }[] = [];
  let licence = '';
  for (const { file, pos } of DATA_FILES) {
    const text = await readFile(join(dir, file), 'latin1').catch(() => {
      throw new Error(`${join(dir, file)} cannot be read: install Debian's wordnet-base or pass --wordnet DIR`);
    });
    licence ||= licenceText(text);
    for (const line of text.split('\n')) if (line !== '' && !line.startsWith('  ')) lines.push({ pos, line: parseDataLine(line) });
  }
  const synsets = toSynsets(lines);
  const tsv = formatCorpus(synsets);
  if (values.check) {
    const shipped = brotliDecompressSync(await readFile(CORPUS_FILE)).toString('utf8');
    const same = shipped === tsv;
    process.stdout.write(
      `${same ? 'identical' : 'DIFFERENT'}: ${synsets.length} synsets from ${dir} vs ${parseCorpus(shipped, CORPUS_FILE).length} in ${relative(process.cwd(), CORPUS_FILE)}\n`,
    );
    process.exitCode = same ? 0 : 1;
    return;
  }
  const bytes = Buffer.from(tsv, 'utf8');
  const compressed = brotliCompressSync(bytes, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_LGWIN]: constants.BROTLI_MAX_WINDOW_BITS,
      [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    },
  });
  await writeFileAtomic(CORPUS_FILE, compressed);
  await writeFileAtomic(join(dirname(CORPUS_FILE), 'LICENSE'), licence);
  const counts = DATA_FILES.map(({ pos }) => `${synsets.filter((s) => s.pos === pos).length} ${pos}`).join(', ');
  process.stdout.write(
    `wrote ${relative(process.cwd(), CORPUS_FILE)}: ${synsets.length} synsets (${counts}), ${synsets.filter((s) => s.domains.length > 0).length} with a topic domain, ${synsets.reduce((n, s) => n + s.examples.length, 0)} examples; ${(bytes.length / 1e6).toFixed(1)} MB of text, ${(compressed.length / 1e6).toFixed(2)} MB compressed\n`,
  );
}

await main();
