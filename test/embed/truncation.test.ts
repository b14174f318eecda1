import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoTokenizer, env, type PreTrainedTokenizer } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEXT_SEPARATOR } from '../../src/dataset/text-dataset.js';
import { encodeTexts, specialTokenLayout } from '../../src/embed/truncation.js';
import { UserInputError } from '../../src/errors.js';
import { loadTokenizer } from '../../src/finetune/tokenize.js';
import { tinyModel } from '../helpers/finetune.js';
import { huggingFaceIds, textOfPieces } from '../helpers/hf-truncation.js';

const MODELS = ['tiny-bert', 'tiny-distilbert', 'tiny-sentence-bert'] as const;
/** Around hfselect's max_length = 128: 126 pieces fit beside [CLS] and [SEP], 127 do not. */
const PIECES = [125, 126, 127, 128, 300];

async function load(root: string, name: string): Promise<PreTrainedTokenizer> {
  env.allowLocalModels = true;
  env.allowRemoteModels = false;
  env.localModelPath = root;
  return AutoTokenizer.from_pretrained(name);
}

/** The texts to check on a tokenizer: single ones of each length, and two columns joined as hfselect does. */
function cases(tokenizer: PreTrainedTokenizer): string[] {
  const columns = [125, 126, 127].map((n) => textOfPieces(tokenizer, n) + TEXT_SEPARATOR + textOfPieces(tokenizer, 40));
  return [...PIECES.map((n) => textOfPieces(tokenizer, n)), ...columns, 'short text', ''];
}

describe.each(MODELS)('%s: truncation to max_length as Hugging Face truncates', (name) => {
  let tokenizer: PreTrainedTokenizer;
  beforeAll(async () => {
    tokenizer = await load(join(tinyModel(name), '..'), name);
  });

  it('keeps [CLS] and [SEP] around the first max_length − 2 pieces, in the embedder and in the runner', async () => {
    const texts = cases(tokenizer);
    const want = texts.map((text) => huggingFaceIds(tokenizer, text, 128));
    expect(want.map((ids) => ids.length)).toEqual([127, 128, 128, 128, 128, 128, 128, 128, 4, 2]);
    const encodings = encodeTexts(tokenizer, texts, 128);
    expect(encodings.map((e) => e.input_ids)).toEqual(want);
    for (const encoding of encodings) {
      for (const values of Object.values(encoding)) expect(values.length).toBe(encoding.input_ids.length);
      expect(encoding.attention_mask.every((v) => v === 1)).toBe(true);
      if (encoding.token_type_ids) expect(encoding.token_type_ids.every((v) => v === 0)).toBe(true);
    }
    const runner = await loadTokenizer(tinyModel(name));
    expect(runner.tokenize(texts).map((ids) => Array.from(ids))).toEqual(want);
  });

  it('truncates at another max_length by the same rule', async () => {
    const texts = cases(tokenizer);
    expect(encodeTexts(tokenizer, texts, 8).map((e) => e.input_ids)).toEqual(texts.map((text) => huggingFaceIds(tokenizer, text, 8)));
    const runner = await loadTokenizer(tinyModel(name), 3);
    expect(runner.tokenize(texts).map((ids) => Array.from(ids))).toEqual(texts.map((text) => huggingFaceIds(tokenizer, text, 3)));
  });

  it('refuses a max_length with no room for a piece', () => {
    expect(specialTokenLayout(tokenizer)).toEqual({ before: 1, after: 1 });
    expect(() => encodeTexts(tokenizer, ['a text'], 2)).toThrow(UserInputError);
  });
});

/**
 * A byte-level BPE tokenizer laid out as RoBERTa's (<s> A </s>, Ġ for a leading space), written
 * here since there is no RoBERTa fixture: one piece per letter, so a text's pieces are known.
 */
function robertaLike(postProcessor: object, truncationSide?: 'left'): { tokenizer: object; config: object } {
  const specials = ['<s>', '<pad>', '</s>', '<unk>'];
  const letters = 'abcdefghijklmnopqrstuvwxyz'.split('');
  const vocab = Object.fromEntries([...specials, ...letters, ...letters.map((l) => `Ġ${l}`)].map((token, id) => [token, id]));
  return {
    tokenizer: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: specials.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: postProcessor,
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: '',
        end_of_word_suffix: '',
        fuse_unk: false,
        byte_fallback: false,
        vocab,
        merges: [],
      },
    },
    config: {
      tokenizer_class: 'RobertaTokenizer',
      model_max_length: 512,
      bos_token: '<s>',
      eos_token: '</s>',
      cls_token: '<s>',
      sep_token: '</s>',
      pad_token: '<pad>',
      unk_token: '<unk>',
      ...(truncationSide ? { truncation_side: truncationSide } : {}),
    },
  };
}

const ROBERTA_PROCESSING = { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], trim_offsets: true, add_prefix_space: false };
const ROBERTA_TEMPLATE = {
  type: 'TemplateProcessing',
  single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
  pair: [],
  special_tokens: { '<s>': { id: '<s>', ids: [0], tokens: ['<s>'] }, '</s>': { id: '</s>', ids: [2], tokens: ['</s>'] } },
};

describe('RoBERTa-style tokenizers (<s> … </s>)', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'esmselect-roberta-'));
    const variants = { processing: robertaLike(ROBERTA_PROCESSING), template: robertaLike(ROBERTA_TEMPLATE), left: robertaLike(ROBERTA_PROCESSING, 'left') };
    for (const [name, { tokenizer, config }] of Object.entries(variants)) {
      await mkdir(join(root, name));
      await writeFile(join(root, name, 'tokenizer.json'), JSON.stringify(tokenizer));
      await writeFile(join(root, name, 'tokenizer_config.json'), JSON.stringify(config));
    }
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  const letters = (count: number) => Array.from({ length: count }, (_, i) => 'abcdefghijklmnopqrstuvwxyz'[i % 26]).join(' ');

  it.each(['processing', 'template'])('%s: keeps <s> and </s> around the first max_length − 2 pieces', async (name) => {
    const tokenizer = await load(root, name);
    const texts = [...PIECES.map(letters), letters(126) + TEXT_SEPARATOR + letters(9)];
    expect(tokenizer.encode(letters(300), { add_special_tokens: false })).toHaveLength(300);
    const want = texts.map((text) => huggingFaceIds(tokenizer, text, 128));
    expect(want.map((ids) => [ids[0], ids.at(-1), ids.length])).toEqual(texts.map((_, i) => [0, 2, i === 0 ? 127 : 128]));
    expect(encodeTexts(tokenizer, texts, 128).map((e) => e.input_ids)).toEqual(want);
    const runner = await loadTokenizer(join(root, name));
    expect(runner.tokenize(texts).map((ids) => Array.from(ids))).toEqual(want);
  });

  it('cuts the first pieces when the tokenizer truncates on the left', async () => {
    const tokenizer = await load(root, 'left');
    const texts = PIECES.map(letters);
    expect(encodeTexts(tokenizer, texts, 128).map((e) => e.input_ids)).toEqual(texts.map((text) => huggingFaceIds(tokenizer, text, 128, 'left')));
  });
});
