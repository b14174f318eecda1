import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDataLine, splitGloss, toSynsets } from '../../pretrain/wordnet-data.js';
import { formatCorpus, parseCorpus, readCorpus, type Synset } from '../../study/wordnet/corpus.js';

/** Lines in WordNet 3.0's data-file format (wndb(5WN)), shortened from data.noun, data.verb and data.adj. */
const NOUNS = [
  '00006484 03 n 01 cell 0 002 @ 00004258 n 0000 ;c 06037666 n 0000 | (biology) the basic structural and functional unit of all organisms  ',
  '06037666 09 n 02 biology 0 biological_science 0 001 @ 06037298 n 0000 | the science that studies living organisms  ',
];
const VERB =
  '00001740 29 v 04 breathe 0 take_a_breath 0 respire 0 suspire 3 001 * 00005041 v 0000 02 + 02 00 + 08 00 | draw air into, and expel out of, the lungs; "I can breathe better when the air is clean"; "The patient is respiring"  ';
const ADJECTIVE =
  '02106669 00 s 02 abstemious 0 ascetic(a) 0 001 & 02105990 a 0000 | sparing in consumption of especially food and drink; "the pleasures of the table, never of much consequence to one naturally abstemious"- John Galsworthy  ';

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'esmselect-corpus-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('WordNet data files', () => {
  it('parses a line: lexicographer file, words (hex count, markers and underscores removed), pointers, gloss', () => {
    const verb = parseDataLine(VERB);
    expect(verb).toMatchObject({ id: '00001740-v', lexname: 'verb.body', words: ['breathe', 'take a breath', 'respire', 'suspire'] });
    expect(verb.pointers).toEqual([{ symbol: '*', target: '00005041-v' }]);
    const adjective = parseDataLine(ADJECTIVE);
    expect(adjective).toMatchObject({ id: '02106669-s', lexname: 'adj.all', words: ['abstemious', 'ascetic'] });
    expect(() => parseDataLine('00000001 77 n 01 x 0 000 | y')).toThrow(/lexicographer file 77/);
  });

  it('splits a gloss into its definition and its quoted examples, attributions dropped', () => {
    expect(splitGloss('draw air into, and expel out of, the lungs; "I can breathe better"; "The patient is respiring"')).toEqual({
      definition: 'draw air into, and expel out of, the lungs',
      examples: ['I can breathe better', 'The patient is respiring'],
    });
    expect(splitGloss('sparing in food; "never of much consequence; to one"- John Galsworthy').examples).toEqual(['never of much consequence; to one']);
    // A quoted word inside a definition stays in it; so do several definitions.
    expect(splitGloss('significant progress (especially in the phrase "make strides"); a long step')).toEqual({
      definition: 'significant progress (especially in the phrase "make strides"); a long step',
      examples: [],
    });
  });

  it('resolves topic-domain pointers (;c) to the first word of the domain synset', () => {
    const synsets = toSynsets([...NOUNS.map((line) => ({ pos: 'noun' as const, line: parseDataLine(line) })), { pos: 'verb', line: parseDataLine(VERB) }]);
    expect(synsets[0]).toEqual({
      id: '00006484-n',
      pos: 'noun',
      lexname: 'noun.Tops',
      domains: ['biology'],
      lemmas: ['cell'],
      definition: '(biology) the basic structural and functional unit of all organisms',
      examples: [],
    });
    expect(synsets[2].domains).toEqual([]);
    expect(() => toSynsets([{ pos: 'noun', line: parseDataLine(NOUNS[0]) }])).toThrow(/06037666-n, which is not in the data files/);
  });
});

describe('the corpus file', () => {
  const slice: Synset[] = [
    {
      id: '00006484-n',
      pos: 'noun',
      lexname: 'noun.Tops',
      domains: ['biology'],
      lemmas: ['cell'],
      definition: 'the basic unit of all organisms',
      examples: [],
    },
    {
      id: '00001740-v',
      pos: 'verb',
      lexname: 'verb.body',
      domains: [],
      lemmas: ['breathe', 'take a breath'],
      definition: 'draw air into the lungs',
      examples: ['I can breathe better', 'The patient is respiring'],
    },
  ];

  it('round-trips a slice through its text form and a compressed file', async () => {
    const text = formatCorpus(slice);
    expect(text.split('\n')[0]).toBe('id\tpos\tlexname\tdomains\tlemmas\tdefinition\texamples');
    expect(parseCorpus(text)).toEqual(slice);
    const file = join(scratch, 'slice.tsv.br');
    await writeFile(file, brotliCompressSync(text));
    expect(await readCorpus(file)).toEqual(slice);
    expect(await readCorpus(file, 1)).toEqual(slice.slice(0, 1));
  });

  it('refuses what it could not read back: a separator inside a list entry, a wrong header, a short row', () => {
    expect(() => formatCorpus([{ ...slice[0], lemmas: ['a|b'] }])).toThrow(/00006484-n: a lemma entry is empty or holds "\|"/);
    expect(() => formatCorpus([{ ...slice[0], definition: 'a\tb' }])).toThrow(/definition holds a tab/);
    expect(() => parseCorpus('id\tpos\n')).toThrow(/the header is not id, pos, lexname/);
    expect(() => parseCorpus(`${formatCorpus(slice)}00000001-n\tnoun\n`, 'x.tsv')).toThrow(/^x\.tsv:4: 2 fields, expected 7$/);
    expect(() => parseCorpus(formatCorpus(slice).replace('\tverb\tverb.body', '\tnoun\tverb.body'))).toThrow(/lexname verb.body does not belong to a noun/);
  });

  it('is shipped: all of WordNet 3.0, every synset with a definition', async () => {
    const corpus = await readCorpus();
    expect(corpus).toHaveLength(117659);
    expect(corpus[0]).toMatchObject({ id: '00001740-n', lexname: 'noun.Tops', lemmas: ['entity'] });
    expect(new Set(corpus.map((s) => s.lexname)).size).toBe(45);
    expect(corpus.filter((s) => s.definition === '')).toEqual([]);
    const breathe = corpus.find((s) => s.id === '00001740-v')!;
    expect(breathe.examples).toEqual(['I can breathe better when the air is clean', 'The patient is respiring']);
  });
});
