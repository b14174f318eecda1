import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TextEmbedder } from '../../src/embed/embedder.js';
import { createClassifier, readModelFolder } from '../../src/finetune/checkpoint.js';
import { encodeBertOnnx } from '../../src/finetune/onnx-export.js';
import { loadTokenizer, padBatch } from '../../src/finetune/tokenize.js';
import { loadTensorflow } from '../../src/tf/backend.js';
import { MODELS_ROOT, tinyModel } from '../helpers/finetune.js';

const TEXTS = [
  'the movie was great and the acting was excellent',
  'bad food [SEP] good service',
  'hello',
  'a very long text about nothing in particular '.repeat(20),
];

let scratch: string;
beforeAll(async () => {
  await loadTensorflow();
  scratch = await mkdtemp(join(tmpdir(), 'esmselect-onnx-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const maxDifference = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i])));

describe('encodeBertOnnx', () => {
  it('writes a graph that ONNX Runtime runs to the embeddings of the torch export and of the TF.js encoder', async () => {
    // tiny-sentence-bert (mean pooling) with its torch-exported graph replaced by ours.
    await cp(tinyModel('tiny-sentence-bert'), join(scratch, 'exported'), { recursive: true });
    const folder = await readModelFolder(join(scratch, 'exported'));
    const weights = new Map([...folder.tensors].map(([name, tensor]) => [name, tensor.values]));
    await writeFile(join(scratch, 'exported', 'onnx', 'model.onnx'), encodeBertOnnx(folder.config, weights));

    const ours = await TextEmbedder.load('exported', { modelsDir: scratch });
    const torch = await TextEmbedder.load('tiny-sentence-bert', { modelsDir: MODELS_ROOT });
    const fromOurs = await ours.embed(TEXTS);
    const fromTorch = await torch.embed(TEXTS);
    await Promise.all([ours.dispose(), torch.dispose()]);
    expect(fromOurs.dim).toBe(32);
    expect(maxDifference(fromOurs.data, fromTorch.data)).toBeLessThan(1e-4);

    const encoder = createClassifier(folder, { pooling: 'mean', numLabels: 2, seed: 0 });
    const tokenizer = await loadTokenizer(join(scratch, 'exported'));
    const tfjs = encoder.embed(padBatch(tokenizer.tokenize(TEXTS), [0, 1, 2, 3]));
    expect(maxDifference(tfjs.dataSync(), fromOurs.data)).toBeLessThan(1e-4);
    tfjs.dispose();
    encoder.dispose();
    // Different texts, different embeddings: the comparison is not between constants.
    expect(Math.abs(fromOurs.data[0] - fromOurs.data[32])).toBeGreaterThan(1e-3);
  });

  it('needs every BertModel tensor', async () => {
    const folder = await readModelFolder(tinyModel('tiny-bert'));
    const weights = new Map([...folder.tensors].filter(([name]) => !name.includes('layer.1.output.dense')).map(([name, tensor]) => [name, tensor.values]));
    expect(() => encodeBertOnnx(folder.config, weights)).toThrow('no tensor encoder.layer.1.output.dense.weight to export');
  });
});
