import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoModel, AutoTokenizer, env, type Tensor } from '@huggingface/transformers';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClassifier, readModelFolder, saveCheckpoint } from '../src/finetune/checkpoint.js';
import type { Pooling } from '../src/finetune/encoder.js';
import { loadTokenizer, padBatch } from '../src/finetune/tokenize.js';
import { parseSafetensors } from '../src/io/safetensors.js';
import { loadTensorflow } from '../src/tf/backend.js';
import { tinyModel } from './helpers/finetune.js';

const TEXTS = [
  'the movie was great and the acting was excellent',
  'bad food [SEP] good service',
  'hello',
  // Longer than max_length: both sides truncate to 128 tokens.
  'a very long text about nothing in particular '.repeat(30),
];

let scratch: string;
beforeAll(async () => {
  await loadTensorflow();
  scratch = await mkdtemp(join(tmpdir(), 'esmselect-encoder-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** transformers.js's own forward pass (ONNX) pooled as hfselect pools it. */
async function transformersJsPooled(name: string, pooling: Pooling): Promise<number[][]> {
  env.allowLocalModels = true;
  env.allowRemoteModels = false;
  env.localModelPath = join(tinyModel('tiny-bert'), '..');
  const tokenizer = await AutoTokenizer.from_pretrained(name);
  const model = await AutoModel.from_pretrained(name, { dtype: 'fp32' });
  const inputs = tokenizer(TEXTS, { padding: true, truncation: true, max_length: 128 }) as Record<string, Tensor>;
  const outputs = (await model(inputs)) as Record<string, Tensor>;
  const [rows, length, dim] = outputs.last_hidden_state.dims;
  const hidden = outputs.last_hidden_state.data as Float32Array;
  const mask = Array.from(inputs.attention_mask.data as BigInt64Array, Number);
  await model.dispose();
  return Array.from({ length: rows }, (_, i) => {
    if (pooling === 'pooler_output') return Array.from((outputs.pooler_output.data as Float32Array).subarray(i * dim, (i + 1) * dim));
    if (pooling === 'first_token') return Array.from(hidden.subarray(i * length * dim, i * length * dim + dim));
    const sum = new Array<number>(dim).fill(0);
    let count = 0;
    for (let t = 0; t < length; t++) {
      if (!mask[i * length + t]) continue;
      count++;
      for (let k = 0; k < dim; k++) sum[k] += hidden[(i * length + t) * dim + k];
    }
    return sum.map((s) => s / count);
  });
}

describe('SequenceClassifier', () => {
  it.each([
    ['tiny-bert', 'pooler_output'],
    ['tiny-distilbert', 'first_token'],
    ['tiny-sentence-bert', 'mean'],
  ] as const)('pools %s exactly as transformers.js does (%s, max abs diff ≤ 1e-4)', async (name, pooling) => {
    const folder = tinyModel(name);
    const model = createClassifier(await readModelFolder(folder), { pooling, numLabels: 2, seed: 0 });
    const tokenizer = await loadTokenizer(folder);
    const batch = padBatch(tokenizer.tokenize(TEXTS), [0, 1, 2, 3]);
    expect(batch.length).toBe(128);
    const ours = model.embed(batch);
    const reference = await transformersJsPooled(name, pooling);
    const diff = Math.max(...(ours.arraySync() as number[][]).flatMap((row, i) => row.map((v, k) => Math.abs(v - reference[i][k]))));
    expect(diff).toBeLessThanOrEqual(1e-4);
    // Not trivially equal: the embeddings differ between texts.
    expect(Math.abs(reference[0][0] - reference[1][0])).toBeGreaterThan(1e-3);
    ours.dispose();
    model.dispose();
  });

  it('is unaffected by padding: a text alone embeds as it does in a padded batch', async () => {
    const folder = tinyModel('tiny-bert');
    const model = createClassifier(await readModelFolder(folder), { pooling: 'pooler_output', numLabels: 2, seed: 0 });
    const sequences = (await loadTokenizer(folder)).tokenize(TEXTS);
    const alone = model.embed(padBatch(sequences, [2]));
    const padded = model.embed(padBatch(sequences, [0, 2]));
    const paddedRow = (padded.arraySync() as number[][])[1];
    (alone.arraySync() as number[][])[0].forEach((v, k) => expect(v).toBeCloseTo(paddedRow[k], 5));
    tf.dispose([alone, padded]);
    model.dispose();
  });

  it('saves an HF BertForSequenceClassification folder that loads back to the same outputs', async () => {
    const folder = tinyModel('tiny-bert');
    const base = await readModelFolder(folder);
    const model = createClassifier(base, { pooling: 'pooler_output', numLabels: 3, seed: 5 });
    const out = join(scratch, 'checkpoint');
    await saveCheckpoint(model, base, { task: 'classification', classes: ['neg', 'neu', 'pos'] }, out);
    const names = [...parseSafetensors(new Uint8Array(await readFile(join(out, 'model.safetensors')))).tensors.keys()];
    expect(names).toEqual(expect.arrayContaining(['bert.embeddings.word_embeddings.weight', 'bert.encoder.layer.1.output.LayerNorm.bias', 'bert.pooler.dense.weight', 'classifier.weight', 'classifier.bias']));
    expect(names).toHaveLength(model.parameters.length);
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ architectures: ['BertForSequenceClassification'], id2label: { 0: 'neg', 1: 'neu', 2: 'pos' }, label2id: { pos: 2 }, problem_type: 'single_label_classification', hidden_size: 32 });
    expect(JSON.parse(await readFile(join(out, 'tokenizer_config.json'), 'utf8')).tokenizer_class).toBe('BertTokenizer');

    const reloaded = createClassifier(await readModelFolder(out), { pooling: 'pooler_output', numLabels: 3, seed: 99, keepHead: true });
    const fresh = createClassifier(await readModelFolder(out), { pooling: 'pooler_output', numLabels: 3, seed: 99 });
    const batch = padBatch((await loadTokenizer(out)).tokenize(TEXTS), [0, 1, 2]);
    const [a, b, c] = [model, reloaded, fresh].map((m) => m.logits(batch, null).arraySync() as number[][]);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    [model, reloaded, fresh].forEach((m) => m.dispose());
  });
});
