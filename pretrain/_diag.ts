import * as tf from '@tensorflow/tfjs-core';
import { loadTensorflow } from '../src/tf/backend.js';
import { readModelFolder } from '../src/finetune/checkpoint.js';
import { createMaskedLanguageModel, loadMaskedLanguageModel } from '../src/finetune/mlm.js';
import { loadTokenizer, padBatch } from '../src/finetune/tokenize.js';
import { readCorpus } from '../src/study/wordnet/corpus.js';
import { logme } from '../src/logme/logme.js';
import { encodeClassLabels } from '../src/logme/labels.js';
import { fromRows } from '../src/linalg/matrix.js';
import { generateWordNetFamily } from '../src/study/wordnet/tasks.js';
import type { TransformerEncoder } from '../src/finetune/encoder.js';
await loadTensorflow();
const folder = await readModelFolder(process.argv[2] ?? 'models/wordnet-bert');
const tokenizer = await loadTokenizer(folder.folder);
const corpus = await readCorpus();
function meanPooled(model: TransformerEncoder, texts: readonly string[]): number[][] {
  const out: number[][] = [];
  for (let s = 0; s < texts.length; s += 64) {
    const seqs = tokenizer.tokenize(texts.slice(s, s + 64));
    const batch = padBatch(seqs, Int32Array.from(seqs.keys()));
    out.push(...tf.tidy(() => { const h = tf.reshape(model.hiddenStates(batch, null), [batch.size, batch.length, model.config.hiddenSize]); const m = tf.reshape(tf.tensor1d(batch.attentionMask, 'float32'), [batch.size, batch.length, 1]); return tf.div(tf.sum(tf.mul(h, m), 1), tf.sum(m, 1)).arraySync() as number[][]; }));
  }
  return out;
}
const pre = loadMaskedLanguageModel(folder);
const rnd = createMaskedLanguageModel(folder.config, 20240917);
const family = generateWordNetFamily(corpus);
for (const t of family.targets) {
  const texts = [...t.train.texts, ...t.test!.texts];
  const labels = encodeClassLabels([...t.train.labels, ...t.test!.labels]);
  const a = logme(fromRows(meanPooled(pre, texts)), labels);
  const b = logme(fromRows(meanPooled(rnd, texts)), labels);
  console.log(t.name.padEnd(60), 'LogME pretrained', a.toFixed(3), 'random', b.toFixed(3));
}
