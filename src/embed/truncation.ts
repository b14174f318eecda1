import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { UserInputError } from '../errors.js';

/** One text's encoding, unpadded: what transformers.js returns per text (input_ids, attention_mask, token_type_ids when the model takes them). */
export type TextEncoding = Record<string, number[]>;

/** How many special tokens the tokenizer's post-processor puts before and after a single sequence. */
export interface SpecialTokenLayout {
  readonly before: number;
  readonly after: number;
}

/**
 * Names the rule encodeTexts applies, for the embedding cache's key: vectors cached before it (when
 * a long text lost its final special token) must not be served for it.
 */
export const TRUNCATION_RULE = 'hf-special-tokens-kept';

/** A token no vocabulary has, to find where the post-processor puts the sequence among its special tokens. */
const SENTINEL = '\u0000sequence\u0000';

/**
 * The post-processor's template for one sequence: BERT's `[CLS] A [SEP]` and RoBERTa's `<s> A </s>`
 * are 1 + 1, a tokenizer without a post-processor 0 + 0. Hugging Face's tokenizers count the same
 * thing (`num_special_tokens_to_add(pair=False)`, Rust's `PostProcessor::added_tokens`).
 */
export function specialTokenLayout(tokenizer: PreTrainedTokenizer): SpecialTokenLayout {
  const processor = tokenizer._tokenizer.post_processor;
  if (!processor) return { before: 0, after: 0 };
  const { tokens } = processor([SENTINEL], null, true);
  const at = tokens.indexOf(SENTINEL);
  if (at < 0 || tokens.lastIndexOf(SENTINEL) !== at)
    throw new Error(`the tokenizer's post-processor (${processor.config.type}) does not keep a single sequence as one block`);
  return { before: at, after: tokens.length - at - 1 };
}

/**
 * Tokenises `texts` and truncates each to `maxLength` tokens by Hugging Face's rule for one
 * sequence (`truncation=True, max_length=…`, as hfselect's collate_fn): the word pieces are cut to
 * `maxLength` minus the special tokens first, and the special tokens are added after, so a long
 * text still ends with BERT's `[SEP]` (RoBERTa's `</s>`). transformers.js adds the special tokens
 * first and then cuts the whole array, dropping the final `[SEP]`; so it is asked for untruncated
 * encodings here, and each is cut by position (a "[SEP]" written in a text, as hfselect joins
 * several text columns with, is a word piece like any other). The pieces are cut at the end, or
 * at the start when the tokenizer's config says `truncation_side: "left"`.
 *
 * `maxLength` above the tokenizer's `model_max_length` is lowered to it, as transformers.js does
 * (a longer sequence would not fit the model's position embeddings).
 */
export function encodeTexts(tokenizer: PreTrainedTokenizer, texts: readonly string[], maxLength: number): TextEncoding[] {
  if (texts.length === 0) return [];
  const { before, after } = specialTokenLayout(tokenizer);
  const length = Math.min(maxLength, tokenizer.model_max_length ?? Number.POSITIVE_INFINITY);
  const pieces = length - before - after;
  if (pieces < 1)
    throw new UserInputError(`max_length: ${maxLength} leaves no room for text next to the model's ${before + after} special tokens`, 'max_length');
  const left = tokenizer._tokenizerConfig?.truncation_side === 'left';
  const batch = tokenizer([...texts], { padding: false, truncation: false, return_tensor: false }) as unknown as Record<string, number[][]>;
  return texts.map((_, i) => {
    const encoding: TextEncoding = {};
    for (const [key, rows] of Object.entries(batch)) {
      const row = rows[i];
      if (row.length <= length) encoding[key] = row;
      else if (left) encoding[key] = [...row.slice(0, before), ...row.slice(row.length - after - pieces)];
      else encoding[key] = [...row.slice(0, before + pieces), ...row.slice(row.length - after)];
    }
    return encoding;
  });
}
