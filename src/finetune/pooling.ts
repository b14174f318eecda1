import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelFolder } from './checkpoint.js';
import type { Pooling } from './encoder.js';

/**
 * hfselect's pooling rule (`get_pooled_output`) for a model folder: a sentence-transformers BERT
 * (modules.json beside config.json, or a name saying so) is mean-pooled, another BERT uses
 * `pooler_output`, DistilBERT the first token. The embedder applies the same rule to the same
 * folders, so fine-tuned embeddings live in the space the ranking uses.
 */
export async function poolingOf(model: ModelFolder): Promise<Pooling> {
  if (model.config.architecture === 'distilbert') return 'first_token';
  const sentenceTransformers = model.folder.includes('sentence-transformers') || (await stat(join(model.folder, 'modules.json')).catch(() => null)) !== null;
  return sentenceTransformers ? 'mean' : 'pooler_output';
}
