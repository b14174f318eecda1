import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../src/io/atomic.js';

/** BERT's special tokens, at ids 0–4 as models/tiny-bert has them (the runner pads with id 0). */
export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;
export const CONTINUING_SUBWORD_PREFIX = '##';

/** Punctuation as BERT's BasicTokenizer (and tokenizers' BertPreTokenizer) splits it: Unicode P* plus ASCII's symbol ranges. */
const WORD_OR_PUNCTUATION = /[^\s\p{P}\u0021-\u002F\u003A-\u0040\u005B-\u0060\u007B-\u007E]+|[\p{P}\u0021-\u002F\u003A-\u0040\u005B-\u0060\u007B-\u007E]/gu;

/**
 * The words WordPiece sees in a text, as the tokenizer.json written here makes transformers.js see
 * them: BertNormalizer (control characters dropped, whitespace as spaces, lower case, accents stripped
 * by NFD) then BertPreTokenizer (split at whitespace, each punctuation mark a word of its own). CJK
 * characters, which BertNormalizer also spaces out, do not occur in the WordNet corpus and are not handled.
 */
export function preTokenize(text: string): string[] {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: BERT's BasicTokenizer drops control characters, as this does.
  const cleaned = text.replace(/[\p{Cc}\p{Cf}\p{Co}\p{Cs}\u0000\uFFFD]/gu, (c) => (/\s/.test(c) ? ' ' : ''));
  const normalised = cleaned
    .toLowerCase()
    .normalize('NFD')
    .replace(/\p{Mn}/gu, '');
  return normalised.match(WORD_OR_PUNCTUATION) ?? [];
}

export interface WordPieceTrainerOptions {
  /** The vocabulary's size, special tokens and alphabet included (training stops there, or earlier when no pair is frequent enough). */
  readonly vocabSize: number;
  /** A pair is merged only if it occurs at least this often (tokenizers' `min_frequency`). */
  readonly minFrequency?: number;
  /** Keep only this many of the most frequent characters (tokenizers' `limit_alphabet`); the rest become [UNK]. */
  readonly limitAlphabet?: number;
}

/** A max-heap of candidate merges: the highest count first, then the smaller pair (tokenizers' `Merge` order). */
class MergeQueue {
  private readonly items: { count: number; pair: number }[] = [];

  private static before(x: { count: number; pair: number }, y: { count: number; pair: number }): boolean {
    return x.count !== y.count ? x.count > y.count : x.pair < y.pair;
  }

  get size(): number {
    return this.items.length;
  }

  push(item: { count: number; pair: number }): void {
    const { items } = this;
    items.push(item);
    for (let i = items.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!MergeQueue.before(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  pop(): { count: number; pair: number } {
    const { items } = this;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      for (let i = 0; ; ) {
        const left = 2 * i + 1;
        const right = left + 1;
        let best = i;
        if (left < items.length && MergeQueue.before(items[left], items[best])) best = left;
        if (right < items.length && MergeQueue.before(items[right], items[best])) best = right;
        if (best === i) break;
        [items[i], items[best]] = [items[best], items[i]];
        i = best;
      }
    }
    return top;
  }
}

/** Pairs of ids as one number: ids stay below 2²¹, so a · 2²¹ + b is exact in a double. */
const PAIR_BASE = 2 ** 21;
const pairKey = (a: number, b: number) => a * PAIR_BASE + b;

function pairCounts(symbols: readonly number[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (let i = 0; i + 1 < symbols.length; i++) {
    const key = pairKey(symbols[i], symbols[i + 1]);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/**
 * Learns a WordPiece vocabulary from texts as tokenizers' WordPieceTrainer does (a BPE trainer with
 * the `##` continuing-subword prefix): the words of the texts (`preTokenize`) are split into
 * characters, a character after the first carrying the prefix; then, until the vocabulary is full,
 * the most frequent adjacent pair of pieces (ties: the smaller pair of ids) becomes a new piece,
 * `a` + `b` without its prefix. The vocabulary is the special tokens, the alphabet (sorted by code
 * point), every alphabet character with the prefix (so any word over the alphabet tokenises without
 * [UNK]), then the merged pieces in the order they were learnt. Deterministic: the result depends
 * only on the texts' words and their counts.
 */
export function trainWordPiece(texts: Iterable<string>, options: WordPieceTrainerOptions): string[] {
  const minFrequency = options.minFrequency ?? 2;
  const wordCounts = new Map<string, number>();
  for (const text of texts) for (const word of preTokenize(text)) wordCounts.set(word, (wordCounts.get(word) ?? 0) + 1);
  const characterCounts = new Map<string, number>();
  for (const [word, count] of wordCounts) for (const c of word) characterCounts.set(c, (characterCounts.get(c) ?? 0) + count);
  let alphabet = [...characterCounts.keys()];
  if (options.limitAlphabet !== undefined && alphabet.length > options.limitAlphabet) {
    alphabet = alphabet.sort((x, y) => characterCounts.get(y)! - characterCounts.get(x)! || (x < y ? -1 : 1)).slice(0, options.limitAlphabet);
  }
  alphabet.sort((x, y) => x.codePointAt(0)! - y.codePointAt(0)!);

  const vocabulary: string[] = [...SPECIAL_TOKENS];
  const ids = new Map<string, number>(vocabulary.map((token, id) => [token, id]));
  const add = (token: string) => {
    if (!ids.has(token)) {
      ids.set(token, vocabulary.length);
      vocabulary.push(token);
    }
    return ids.get(token)!;
  };
  for (const c of alphabet) add(c);
  for (const c of alphabet) add(CONTINUING_SUBWORD_PREFIX + c);
  if (vocabulary.length >= PAIR_BASE || options.vocabSize >= PAIR_BASE) throw new RangeError(`vocabularies of ${PAIR_BASE} pieces or more are not supported`);

  // Words as piece ids; characters outside the alphabet are dropped (they would be [UNK]).
  const words = [...wordCounts.keys()].sort();
  const counts = words.map((w) => wordCounts.get(w)!);
  const symbols = words.map((word) => [...word].filter((c) => ids.has(c)).map((c, i) => ids.get(i === 0 ? c : CONTINUING_SUBWORD_PREFIX + c)!));

  const pairs = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  symbols.forEach((word, w) => {
    for (const [key, n] of pairCounts(word)) {
      pairs.set(key, (pairs.get(key) ?? 0) + n * counts[w]);
      let set = where.get(key);
      if (!set) where.set(key, (set = new Set()));
      set.add(w);
    }
  });
  const queue = new MergeQueue();
  for (const [pair, count] of pairs) if (count > 0) queue.push({ count, pair });

  while (vocabulary.length < options.vocabSize && queue.size > 0) {
    const top = queue.pop();
    const current = pairs.get(top.pair) ?? 0;
    if (top.count !== current) {
      if (current > 0) queue.push({ count: current, pair: top.pair });
      continue;
    }
    if (current < Math.max(1, minFrequency)) break;
    const a = Math.floor(top.pair / PAIR_BASE);
    const b = top.pair % PAIR_BASE;
    const right = vocabulary[b];
    const merged = add(vocabulary[a] + (right.startsWith(CONTINUING_SUBWORD_PREFIX) ? right.slice(CONTINUING_SUBWORD_PREFIX.length) : right));
    const increased = new Set<number>();
    for (const w of where.get(top.pair) ?? []) {
      const before = symbols[w];
      const after: number[] = [];
      for (let i = 0; i < before.length; i++) {
        if (i + 1 < before.length && before[i] === a && before[i + 1] === b) {
          after.push(merged);
          i++;
        } else after.push(before[i]);
      }
      if (after.length === before.length) continue;
      symbols[w] = after;
      const removed = pairCounts(before);
      for (const [key, n] of pairCounts(after)) {
        const change = n - (removed.get(key) ?? 0);
        removed.delete(key);
        if (change === 0) continue;
        pairs.set(key, (pairs.get(key) ?? 0) + change * counts[w]);
        if (change > 0) {
          increased.add(key);
          let set = where.get(key);
          if (!set) where.set(key, (set = new Set()));
          set.add(w);
        }
      }
      for (const [key, n] of removed) pairs.set(key, pairs.get(key)! - n * counts[w]);
    }
    for (const key of increased) queue.push({ count: pairs.get(key)!, pair: key });
  }
  return vocabulary;
}

/**
 * Greedy longest-match-first WordPiece of one word (BERT's WordpieceTokenizer, as transformers.js
 * runs it): the word's pieces, or [UNK] when some part of it matches no piece.
 */
export function wordPieces(word: string, vocabulary: ReadonlySet<string>): string[] {
  const pieces: string[] = [];
  const characters = [...word];
  for (let start = 0; start < characters.length; ) {
    let end = characters.length;
    let piece: string | undefined;
    for (; end > start; end--) {
      const candidate = (start > 0 ? CONTINUING_SUBWORD_PREFIX : '') + characters.slice(start, end).join('');
      if (vocabulary.has(candidate)) {
        piece = candidate;
        break;
      }
    }
    if (piece === undefined) return ['[UNK]'];
    pieces.push(piece);
    start = end;
  }
  return pieces;
}

const specialToken = (content: string, id: number) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
const templateToken = (id: string, typeId: number) => ({ SpecialToken: { id, type_id: typeId } });

/** tokenizer.json (the `tokenizers` library's format, which transformers.js loads) for a BERT WordPiece vocabulary. */
export function tokenizerJson(vocabulary: readonly string[]): Record<string, unknown> {
  const id = (token: string) => vocabulary.indexOf(token);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((token) => specialToken(token, id(token))),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [templateToken('[CLS]', 0), { Sequence: { id: 'A', type_id: 0 } }, templateToken('[SEP]', 0)],
      pair: [
        templateToken('[CLS]', 0),
        { Sequence: { id: 'A', type_id: 0 } },
        templateToken('[SEP]', 0),
        { Sequence: { id: 'B', type_id: 1 } },
        templateToken('[SEP]', 1),
      ],
      special_tokens: Object.fromEntries(['[CLS]', '[SEP]'].map((token) => [token, { id: token, ids: [id(token)], tokens: [token] }])),
    },
    decoder: { type: 'WordPiece', prefix: CONTINUING_SUBWORD_PREFIX, cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: CONTINUING_SUBWORD_PREFIX,
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocabulary.map((token, i) => [token, i])),
    },
  };
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/**
 * Writes a BERT tokenizer into a model folder as `BertTokenizerFast.save_pretrained` does:
 * tokenizer.json, tokenizer_config.json, special_tokens_map.json and vocab.txt.
 */
export async function saveTokenizer(folder: string, vocabulary: readonly string[], modelMaxLength: number): Promise<void> {
  await mkdir(folder, { recursive: true });
  const specials = { cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]', unk_token: '[UNK]', mask_token: '[MASK]' };
  await writeFileAtomic(join(folder, 'tokenizer.json'), json(tokenizerJson(vocabulary)));
  await writeFileAtomic(
    join(folder, 'tokenizer_config.json'),
    json({
      tokenizer_class: 'BertTokenizer',
      do_lower_case: true,
      tokenize_chinese_chars: true,
      strip_accents: null,
      model_max_length: modelMaxLength,
      clean_up_tokenization_spaces: true,
      ...specials,
    }),
  );
  await writeFileAtomic(join(folder, 'special_tokens_map.json'), json(specials));
  await writeFileAtomic(join(folder, 'vocab.txt'), vocabulary.map((token) => `${token}\n`).join(''));
}
