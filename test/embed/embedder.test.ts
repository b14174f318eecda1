import { readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AutoModel, AutoTokenizer, env, Tensor } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTextDataset, TEXT_SEPARATOR } from '../../src/dataset/text-dataset.js';
import { TextEmbedder } from '../../src/embed/embedder.js';
import { modelFolder } from '../../src/embed/model-folder.js';
import { applyBertPooler, type Pooling } from '../../src/embed/pooling.js';
import { UserInputError } from '../../src/errors.js';
import { readSafetensorsTensors, toFloat32 } from '../../src/io/safetensors.js';
import { lastHiddenState, loadReferenceModel, pooledReference } from '../helpers/bert-reference.js';
import { huggingFaceIds, textOfPieces } from '../helpers/hf-truncation.js';

const MODELS = fileURLToPath(new URL('../../models/', import.meta.url));
const REVIEWS = fileURLToPath(new URL('../fixtures/datasets/reviews.csv', import.meta.url));
const TORCH = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/tiny-models/torch-reference.json', import.meta.url)), 'utf8'));

const CASES: [string, Pooling][] = [
  ['tiny-bert', 'pooler_output'],
  ['tiny-distilbert', 'first_token'],
  ['tiny-sentence-bert', 'mean'],
];

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

/** The torch probe's rows without their padding. */
function probeRows(): { ids: number[]; types: number[] }[] {
  return TORCH.input_ids.map((ids: number[], i: number) => {
    const length = TORCH.attention_mask[i].reduce((a: number, b: number) => a + b, 0);
    return { ids: ids.slice(0, length), types: TORCH.token_type_ids[i].slice(0, length) };
  });
}

describe('tiny model fixtures', () => {
  it.each(['tiny-bert', 'tiny-distilbert'])('%s: the float64 safetensors forward reproduces the torch module', (name) => {
    const model = loadReferenceModel(join(MODELS, name));
    const want = TORCH.models[name];
    probeRows().forEach(({ ids, types }, i) => {
      const hidden = lastHiddenState(model, ids, types);
      expect(
        maxAbsDiff(
          hidden.flatMap((h) => Array.from(h)),
          want.last_hidden_state[i].slice(0, ids.length).flat(),
        ),
      ).toBeLessThan(1e-5);
    });
  });

  it.each(['tiny-bert', 'tiny-distilbert'])('%s: the ONNX graph run by transformers.js reproduces the torch module, padding included', async (name) => {
    env.allowRemoteModels = false;
    env.localModelPath = MODELS;
    const model = await AutoModel.from_pretrained(name, { dtype: 'fp32', device: 'cpu' });
    const tensor = (rows: number[][]) => new Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, rows[0].length]);
    const outputs = await model({
      input_ids: tensor(TORCH.input_ids),
      attention_mask: tensor(TORCH.attention_mask),
      token_type_ids: tensor(TORCH.token_type_ids),
    });
    const want = TORCH.models[name];
    expect(maxAbsDiff(outputs.last_hidden_state.data, want.last_hidden_state.flat(2))).toBeLessThan(1e-5);
    if (want.pooler_output) expect(maxAbsDiff(outputs.pooler_output.data, want.pooler_output.flat())).toBeLessThan(1e-5);
    await model.dispose();
  });

  it('tokenises like BERT: lower-cased WordPiece, [CLS] … [SEP], "[SEP]" in the text kept as the special token', async () => {
    env.localModelPath = MODELS;
    const tokenizer = await AutoTokenizer.from_pretrained('tiny-bert');
    expect(tokenizer.tokenize('The players were Running!')).toEqual(['the', 'play', '##ers', 'were', 'run', '##n', '##ing', '!']);
    const vocab = readFileSync(join(MODELS, 'tiny-bert', 'vocab.txt'), 'utf8').split('\n');
    const ids = tokenizer('good [SEP] bad').input_ids.tolist()[0].map(Number);
    expect(ids.map((id: number) => vocab[id])).toEqual(['[CLS]', 'good', '[SEP]', 'bad', '[SEP]']);
  });
});

describe('TextEmbedder', () => {
  let texts: string[];
  beforeAll(async () => {
    texts = (await readTextDataset(REVIEWS, { textColumns: ['title', 'text'], labelColumn: 'label' })).texts;
  });

  it.each(CASES)('%s: pooled vectors (%s) match the float64 computation from model.safetensors', async (name, pooling) => {
    const embedder = await TextEmbedder.load(name, { modelsDir: MODELS, allowRemote: false });
    expect(embedder.pooling).toBe(pooling);
    expect(embedder.meta).toEqual({ model: name, pooling, max_length: 128, dim: 32 });
    const embeddings = await embedder.embed(texts, { batchSize: 6 });
    expect([embeddings.rows, embeddings.dim]).toEqual([texts.length, 32]);

    const tokenizer = await AutoTokenizer.from_pretrained(name);
    const reference = loadReferenceModel(join(MODELS, name));
    let worst = 0;
    let truncated = 0;
    texts.forEach((text, i) => {
      const ids = huggingFaceIds(tokenizer, text, 128);
      if (ids.length === 128) truncated++;
      const want = pooledReference(reference, pooling, ids);
      worst = Math.max(worst, maxAbsDiff(embeddings.data.subarray(i * 32, (i + 1) * 32), want));
    });
    expect(truncated).toBeGreaterThan(0); // the long review exercises max_length truncation
    expect(worst).toBeLessThanOrEqual(1e-4);
    console.log(`${name} (${pooling}): max |transformers.js − float64 reference| = ${worst.toExponential(2)} over ${texts.length} texts`);
    await embedder.dispose();
  });

  it.each(CASES)('%s: texts past max_length are pooled over [CLS] + 126 pieces + [SEP], as by Hugging Face (%s)', async (name, pooling) => {
    const embedder = await TextEmbedder.load(name, { modelsDir: MODELS, allowRemote: false });
    const tokenizer = await AutoTokenizer.from_pretrained(name);
    const long = [125, 126, 127, 128, 300].map((n) => textOfPieces(tokenizer, n));
    const columns = [126, 127].map((n) => textOfPieces(tokenizer, n) + TEXT_SEPARATOR + textOfPieces(tokenizer, 30));
    const cases = [...long, ...columns];
    const embeddings = await embedder.embed(cases, { batchSize: 4 });
    const reference = loadReferenceModel(join(MODELS, name));
    cases.forEach((text, i) => {
      const want = pooledReference(reference, pooling, huggingFaceIds(tokenizer, text, 128));
      expect(maxAbsDiff(embeddings.data.subarray(i * 32, (i + 1) * 32), want), `${name}, text ${i}`).toBeLessThanOrEqual(1e-4);
    });
    await embedder.dispose();
  });

  it('gives the same vectors whatever the batching (padding has no weight)', async () => {
    const embedder = await TextEmbedder.load('tiny-sentence-bert', { modelsDir: MODELS });
    const batched = await embedder.embed(texts, { batchSize: 7 });
    const single = await embedder.embed(texts, { batchSize: 1 });
    expect(maxAbsDiff(batched.data, single.data)).toBeLessThan(1e-5);
    await embedder.dispose();
  });

  it('applies the BERT pooler from model.safetensors as the ONNX graph does', async () => {
    const folder = join(MODELS, 'tiny-bert');
    const tensors = await readSafetensorsTensors(join(folder, 'model.safetensors'), ['pooler.dense.weight', 'pooler.dense.bias', 'no.such.tensor']);
    expect([...tensors.keys()]).toEqual(['pooler.dense.weight', 'pooler.dense.bias']);
    const pooler = { weight: toFloat32(tensors.get('pooler.dense.weight')!), bias: toFloat32(tensors.get('pooler.dense.bias')!) };
    const bert = await TextEmbedder.load('tiny-bert', { modelsDir: MODELS });
    const reference = loadReferenceModel(folder);
    const tokenizer = await AutoTokenizer.from_pretrained('tiny-bert');
    const firstStates = texts.slice(0, 5).flatMap((text) => Array.from(lastHiddenState(reference, tokenizer(text).input_ids.tolist()[0].map(Number))[0]));
    const pooled = applyBertPooler(pooler, { rows: 5, dim: 32, data: Float32Array.from(firstStates) });
    const onnx = await bert.embed(texts.slice(0, 5));
    expect(maxAbsDiff(pooled.data, onnx.data)).toBeLessThan(1e-5);
    await bert.dispose();
  });
});

describe('model names and folders', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'esmselect-models-'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('keeps names inside the models directory', () => {
    expect(modelFolder('tiny-bert', '/m')).toBe('/m/tiny-bert');
    expect(modelFolder('org/name.v2', '/m')).toBe('/m/org/name.v2');
    for (const bad of ['../etc', '/etc/passwd', 'a/../../b', '..', '.', 'a/b/c', 'a\\b', '', 'a//b', 'org/..']) {
      expect(() => modelFolder(bad, '/m'), bad).toThrow(UserInputError);
    }
  });

  it('names a missing model or file, offline', async () => {
    await expect(TextEmbedder.load('no-such-model', { modelsDir: root, allowRemote: false })).rejects.toThrow(
      /config\.json is missing.*ESMSELECT_ALLOW_REMOTE/,
    );
    await cp(join(MODELS, 'tiny-bert'), join(root, 'partial'), { recursive: true });
    await rm(join(root, 'partial', 'onnx'), { recursive: true });
    await expect(TextEmbedder.load('partial', { modelsDir: root, allowRemote: false })).rejects.toThrow(/onnx\/model\.onnx is missing/);
  });

  it('refuses a model type hfselect has no pooling rule for', async () => {
    await cp(join(MODELS, 'tiny-bert'), join(root, 'albert-like'), { recursive: true });
    const config = JSON.parse(readFileSync(join(root, 'albert-like', 'config.json'), 'utf8'));
    await writeFile(join(root, 'albert-like', 'config.json'), JSON.stringify({ ...config, model_type: 'electra' }));
    await expect(TextEmbedder.load('albert-like', { modelsDir: root })).rejects.toThrow(/model_type "electra" has no hfselect pooling rule/);
  });
});
