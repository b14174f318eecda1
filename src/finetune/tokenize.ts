import { basename, dirname } from 'node:path';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { DEFAULT_MAX_LENGTH } from '../embed/embedder.js';
import { encodeTexts } from '../embed/truncation.js';
import type { TokenBatch } from './encoder.js';

/** Token ids of each text, unpadded, with [CLS]/[SEP] as the model's tokenizer adds them. */
export type TokenizedTexts = readonly Int32Array[];

export interface TextTokenizer {
  tokenize(texts: readonly string[]): TokenizedTexts;
}

/**
 * The model folder's own tokenizer through transformers.js (tokenizer.json + tokenizer_config.json),
 * offline, truncating to `maxLength` tokens as hfselect does (Hugging Face's rule, encodeTexts).
 */
export async function loadTokenizer(folder: string, maxLength = DEFAULT_MAX_LENGTH): Promise<TextTokenizer> {
  // transformers.js resolves local models as localModelPath/name; its settings are global.
  env.allowLocalModels = true;
  env.allowRemoteModels = false;
  env.localModelPath = dirname(folder);
  const tokenizer = await AutoTokenizer.from_pretrained(basename(folder));
  return {
    tokenize(texts) {
      return encodeTexts(tokenizer, texts, maxLength).map((encoding) => Int32Array.from(encoding.input_ids));
    },
  };
}

/**
 * The sequences `rows` right-padded with id 0 to the longest of them (transformers'
 * DataCollatorWithPadding): with the attention mask, padding changes nothing, so there is no need
 * to pad to `max_length` as hfselect does.
 */
export function padBatch(sequences: TokenizedTexts, rows: ArrayLike<number>): TokenBatch {
  let length = 1;
  for (let i = 0; i < rows.length; i++) length = Math.max(length, sequences[rows[i]].length);
  const inputIds = new Int32Array(rows.length * length);
  const attentionMask = new Int32Array(rows.length * length);
  for (let i = 0; i < rows.length; i++) {
    const ids = sequences[rows[i]];
    inputIds.set(ids, i * length);
    attentionMask.fill(1, i * length, i * length + ids.length);
  }
  return { size: rows.length, length, inputIds, attentionMask };
}
