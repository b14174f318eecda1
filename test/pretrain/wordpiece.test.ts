import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pretrainingText } from '../../pretrain/config.js';
import { preTokenize, SPECIAL_TOKENS, saveTokenizer, trainWordPiece, wordPieces } from '../../pretrain/wordpiece.js';
import { readCorpus } from '../../study/wordnet/corpus.js';

let scratch: string;
let texts: string[];
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'esmselect-wordpiece-'));
  // A slice of the shipped corpus: every 200th synset (nouns, verbs, adjectives, adverbs).
  texts = (await readCorpus()).filter((_, i) => i % 200 === 0).map(pretrainingText);
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('trainWordPiece', () => {
  it('merges the most frequent pair first, ties to the smaller pair of ids, words split with ##', () => {
    // Hugging Face's course example: hug ×10, pug ×5, pun ×12, bun ×4, hugs ×5. Pairs, counted over words:
    // (##u ##g) 20 → ##ug; then (##u ##n) 16 → ##un; (h ##ug) 15 → hug; (p ##un) 12 → pun; then
    // (p ##ug) and (hug ##s) both 5: p (id 9) before hug (id 21) → pug, then hugs.
    const words = [...Array(10).fill('hug'), ...Array(5).fill('pug'), ...Array(12).fill('pun'), ...Array(4).fill('bun'), ...Array(5).fill('hugs')];
    const vocabulary = trainWordPiece([words.join(' ')], { vocabSize: 25 });
    const alphabet = ['b', 'g', 'h', 'n', 'p', 's', 'u'];
    expect(vocabulary).toEqual([...SPECIAL_TOKENS, ...alphabet, ...alphabet.map((c) => `##${c}`), '##ug', '##un', 'hug', 'pun', 'pug', 'hugs']);
    // With room for more, the next merge is bun (4); pairs seen once are never merged (minFrequency 2).
    expect(trainWordPiece([words.join(' ')], { vocabSize: 100 }).slice(25)).toEqual(['bun']);
  });

  it('splits text as BERT does: lower case, accents stripped, punctuation apart', () => {
    expect(preTokenize('Café-au-lait, (Canis familiaris)!')).toEqual(['cafe', '-', 'au', '-', 'lait', ',', '(', 'canis', 'familiaris', ')', '!']);
    expect(wordPieces('hugs', new Set(['hug', '##s', '##gs']))).toEqual(['hug', '##s']);
    expect(wordPieces('hugz', new Set(['hug', '##s']))).toEqual(['[UNK]']);
  });

  it('learns a vocabulary from a corpus slice that transformers.js loads and tokenises the same way, without [UNK]', async () => {
    const vocabulary = trainWordPiece(texts, { vocabSize: 800 });
    expect(vocabulary).toHaveLength(800);
    expect(vocabulary.slice(0, 5)).toEqual([...SPECIAL_TOKENS]);
    expect(new Set(vocabulary).size).toBe(800);
    expect(trainWordPiece(texts, { vocabSize: 800 })).toEqual(vocabulary);
    // The commonest words of glosses are whole pieces.
    for (const word of ['the', 'of', 'a', 'or', 'to']) expect(vocabulary).toContain(word);

    const folder = join(scratch, 'tokenizer');
    await saveTokenizer(folder, vocabulary, 128);
    expect((await readFile(join(folder, 'vocab.txt'), 'utf8')).split('\n').slice(0, 3)).toEqual(['[PAD]', '[UNK]', '[CLS]']);
    env.allowLocalModels = true;
    env.allowRemoteModels = false;
    env.localModelPath = scratch;
    const tokenizer = await AutoTokenizer.from_pretrained('tokenizer');
    const pieces = new Set(vocabulary);
    for (const text of texts) {
      const ours = preTokenize(text).flatMap((word) => wordPieces(word, pieces));
      expect(tokenizer.tokenize(text)).toEqual(ours);
      expect(ours).not.toContain('[UNK]');
    }
    const ids = tokenizer(texts[0]).input_ids.tolist()[0].map(Number);
    expect([ids[0], ids[ids.length - 1]]).toEqual([vocabulary.indexOf('[CLS]'), vocabulary.indexOf('[SEP]')]);
  });
});
