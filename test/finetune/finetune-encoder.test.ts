import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TextEmbedder } from '../../src/embed/embedder.js';
import { createClassifier, readModelFolder, saveCheckpoint } from '../../src/finetune/checkpoint.js';
import { loadTokenizer, padBatch } from '../../src/finetune/tokenize.js';
import { parseSafetensors } from '../../src/io/safetensors.js';
import { loadTensorflow } from '../../src/tf/backend.js';
import { MODELS_ROOT, tinyModel } from '../helpers/finetune.js';

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

describe('SequenceClassifier', () => {
  it.each([
    ['tiny-bert', 'pooler_output'],
    ['tiny-distilbert', 'first_token'],
    ['tiny-sentence-bert', 'mean'],
  ] as const)('pools %s exactly as the embedder does (%s, max abs diff ≤ 1e-4)', async (name, pooling) => {
    const folder = tinyModel(name);
    const model = createClassifier(await readModelFolder(folder), { pooling, numLabels: 2, seed: 0 });
    const tokenizer = await loadTokenizer(folder);
    const batch = padBatch(tokenizer.tokenize(TEXTS), [0, 1, 2, 3]);
    expect(batch.length).toBe(128);
    const ours = model.embed(batch);
    // The embedder that ranking uses: transformers.js running the folder's ONNX graph.
    const embedder = await TextEmbedder.load(name, { modelsDir: MODELS_ROOT });
    expect(embedder.pooling).toBe(pooling);
    const reference = await embedder.embed(TEXTS);
    await embedder.dispose();
    const values = ours.dataSync();
    const diff = Math.max(...Array.from(values, (v, i) => Math.abs(v - reference.data[i])));
    expect(values).toHaveLength(reference.data.length);
    expect(diff).toBeLessThanOrEqual(1e-4);
    // Not trivially equal: the embeddings differ between texts.
    expect(Math.abs(reference.data[0] - reference.data[reference.dim])).toBeGreaterThan(1e-3);
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
    expect(names).toEqual(
      expect.arrayContaining([
        'bert.embeddings.word_embeddings.weight',
        'bert.encoder.layer.1.output.LayerNorm.bias',
        'bert.pooler.dense.weight',
        'classifier.weight',
        'classifier.bias',
      ]),
    );
    expect(names).toHaveLength(model.parameters.length);
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      architectures: ['BertForSequenceClassification'],
      id2label: { 0: 'neg', 1: 'neu', 2: 'pos' },
      label2id: { pos: 2 },
      problem_type: 'single_label_classification',
      hidden_size: 32,
    });
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
