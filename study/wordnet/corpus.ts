import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { brotliDecompressSync } from 'node:zlib';

/**
 * The WordNet 3.0 corpus the repository ships (corpora/wordnet/, derived from Debian's wordnet-base
 * by pretrain/derive-corpus.ts): one row per synset, tab-separated, with a header line, compressed
 * with Brotli (3.5 MB rather than gzip's 4.6 MB; `brotli -d` or Node's zlib reads it).
 * Tests, the pretraining and the study's WordNet tasks read this file, never the Debian package.
 */
export const CORPUS_FILE = fileURLToPath(new URL('../../corpora/wordnet/wordnet-3.0.tsv.br', import.meta.url));

export const PARTS_OF_SPEECH = ['noun', 'verb', 'adj', 'adv'] as const;
export type PartOfSpeech = (typeof PARTS_OF_SPEECH)[number];

/** One synset. Lists hold no `|` (the field's separator) and no tab or newline. */
export interface Synset {
  /** WordNet's own identifier: the byte offset in data.<pos> and the synset type (n, v, a, s, r), e.g. `02084071-n`. */
  readonly id: string;
  readonly pos: PartOfSpeech;
  /** The lexicographer file, e.g. `noun.animal` (lexnames(5WN)). */
  readonly lexname: string;
  /** The first lemma of each topic-domain synset (pointer `;c`), e.g. `medicine`; mostly empty. */
  readonly domains: readonly string[];
  /** The synset's words, underscores as spaces and adjective markers such as `(a)` removed. */
  readonly lemmas: readonly string[];
  /** The gloss without its usage examples. */
  readonly definition: string;
  /** The gloss's quoted usage examples, without the quotes. */
  readonly examples: readonly string[];
}

export const CORPUS_COLUMNS = ['id', 'pos', 'lexname', 'domains', 'lemmas', 'definition', 'examples'] as const;
const LIST_SEPARATOR = '|';

function checkField(value: string, what: string, id: string): string {
  if (/[\t\n\r]/.test(value)) throw new Error(`${id}: ${what} holds a tab or a line break`);
  return value;
}

function joinList(values: readonly string[], what: string, id: string): string {
  for (const value of values) {
    if (value.includes(LIST_SEPARATOR) || value === '') throw new Error(`${id}: a ${what} entry is empty or holds "${LIST_SEPARATOR}"`);
  }
  return checkField(values.join(LIST_SEPARATOR), what, id);
}

/** The corpus as the shipped file holds it, before compression: a header line, then one line per synset. */
export function formatCorpus(synsets: readonly Synset[]): string {
  const lines = [CORPUS_COLUMNS.join('\t')];
  for (const s of synsets) {
    lines.push(
      [
        checkField(s.id, 'id', s.id),
        s.pos,
        checkField(s.lexname, 'lexname', s.id),
        joinList(s.domains, 'domain', s.id),
        joinList(s.lemmas, 'lemma', s.id),
        checkField(s.definition, 'definition', s.id),
        joinList(s.examples, 'example', s.id),
      ].join('\t'),
    );
  }
  return `${lines.join('\n')}\n`;
}

const splitList = (field: string): string[] => (field === '' ? [] : field.split(LIST_SEPARATOR));

/** Parses the text `formatCorpus` writes; `source` names it in errors, which give the line. */
export function parseCorpus(text: string, source = 'corpus'): Synset[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines[0] !== CORPUS_COLUMNS.join('\t')) throw new Error(`${source}: the header is not ${CORPUS_COLUMNS.join(', ')} (tab-separated)`);
  return lines.slice(1).map((line, i) => {
    const fields = line.split('\t');
    if (fields.length !== CORPUS_COLUMNS.length) throw new Error(`${source}:${i + 2}: ${fields.length} fields, expected ${CORPUS_COLUMNS.length}`);
    const [id, pos, lexname, domains, lemmas, definition, examples] = fields;
    if (!(PARTS_OF_SPEECH as readonly string[]).includes(pos))
      throw new Error(`${source}:${i + 2}: part of speech "${pos}" is not one of ${PARTS_OF_SPEECH.join(', ')}`);
    if (!lexname.startsWith(`${pos}.`)) throw new Error(`${source}:${i + 2}: lexname ${lexname} does not belong to a ${pos}`);
    return { id, pos: pos as PartOfSpeech, lexname, domains: splitList(domains), lemmas: splitList(lemmas), definition, examples: splitList(examples) };
  });
}

/** Reads the shipped corpus (or another file in its format), `limit` rows at most (a slice for tests). */
export async function readCorpus(file = CORPUS_FILE, limit?: number): Promise<Synset[]> {
  const synsets = parseCorpus(brotliDecompressSync(await readFile(file)).toString('utf8'), file);
  return limit === undefined ? synsets : synsets.slice(0, limit);
}
