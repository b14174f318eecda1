import type { PreTrainedTokenizer } from '@huggingface/transformers';

/** A special token as tokenizer_config.json names it: a string, or an AddedToken object. */
function tokenName(value: string | { content: string }): string {
  return typeof value === 'string' ? value : value.content;
}

/**
 * The ids Hugging Face's tokenizers give one text with `truncation=True, max_length`, written out
 * from the rule rather than from any tokenizer's truncation: the text's word pieces (no special
 * tokens) cut to `maxLength − 2` (the end dropped, or the start with `left`), between the
 * `cls_token` and the `sep_token` that tokenizer_config.json names (BERT's [CLS] … [SEP],
 * RoBERTa's <s> … </s>).
 */
export function huggingFaceIds(tokenizer: PreTrainedTokenizer, text: string, maxLength: number, side: 'right' | 'left' = 'right'): number[] {
  const pieces = tokenizer.encode(text, { add_special_tokens: false });
  const budget = maxLength - 2;
  const kept = pieces.length <= budget ? pieces : side === 'right' ? pieces.slice(0, budget) : pieces.slice(pieces.length - budget);
  const [cls, sep] = tokenizer.convert_tokens_to_ids([tokenName(tokenizer._tokenizerConfig.cls_token), tokenName(tokenizer._tokenizerConfig.sep_token)]);
  return [cls, ...kept, sep];
}

/**
 * A text of exactly `count` word pieces: whole words of the vocabulary that are one piece each,
 * in turn, so that each position holds a known piece.
 */
export function textOfPieces(tokenizer: PreTrainedTokenizer, count: number): string {
  const words = [...tokenizer.get_vocab().keys()]
    .filter((w) => /^[a-z]{3,}$/.test(w) && tokenizer.encode(w, { add_special_tokens: false }).length === 1)
    .sort();
  if (words.length === 0) throw new Error('the vocabulary has no one-piece words');
  const text = Array.from({ length: count }, (_, i) => words[i % words.length]).join(' ');
  const pieces = tokenizer.encode(text, { add_special_tokens: false }).length;
  if (pieces !== count) throw new Error(`built a text of ${pieces} pieces, not ${count}`);
  return text;
}
