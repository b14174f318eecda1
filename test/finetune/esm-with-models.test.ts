import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TextEmbedder } from '../../src/embed/embedder.js';
import { embedWithTensorflow, trainEsmWithModels } from '../../src/finetune/esm-with-models.js';
import { parseSafetensors, serializeSafetensors, toFloat32 } from '../../src/io/safetensors.js';
import { MODELS_ROOT, tinyModel } from '../helpers/finetune.js';

const REVIEWS = new URL('../fixtures/datasets/reviews.csv', import.meta.url).pathname;
const TEXTS = [
  'the movie was great and the acting was excellent',
  'bad food [SEP] good service',
  'hello',
  'a very long text about nothing in particular '.repeat(30),
];

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'esmselect-esm-with-models-'));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  return Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i])));
}

describe('the TensorFlow.js path for checkpoints without ONNX', () => {
  it.each([
    ['tiny-bert', 'pooler_output'],
    ['tiny-distilbert', 'first_token'],
    ['tiny-sentence-bert', 'mean'],
  ] as const)('pools %s (%s) as the ONNX path does, to float32 rounding', async (name, pooling) => {
    const embedder = await TextEmbedder.load(name, { modelsDir: MODELS_ROOT, allowRemote: false });
    expect(embedder.pooling).toBe(pooling);
    const onnx = await embedder.embed(TEXTS);
    await embedder.dispose();
    const tensorflow = await embedWithTensorflow(tinyModel(name), pooling, TEXTS);
    expect([tensorflow.rows, tensorflow.dim]).toEqual([onnx.rows, onnx.dim]);
    expect(maxAbsDiff(tensorflow.data, onnx.data)).toBeLessThan(1e-5);
    // Not trivially equal: the texts embed differently.
    expect(maxAbsDiff(onnx.data.subarray(0, onnx.dim), onnx.data.subarray(onnx.dim, 2 * onnx.dim))).toBeGreaterThan(1e-3);
  });
});

describe('trainEsmWithModels (hfselect ESMTrainer.train_with_models)', () => {
  it('embeds the dataset with the base model (ONNX) and a safetensors-only checkpoint (TensorFlow.js), and fits the ESM to those pairs', async () => {
    // A "fine-tuned" checkpoint: tiny-bert's weights moved a little, config and weights only (no ONNX, no tokenizer).
    const modelsDir = join(scratch, 'models');
    await cp(tinyModel('tiny-bert'), join(modelsDir, 'tiny-bert'), { recursive: true });
    const tuned = join(modelsDir, 'me', 'tiny-bert-tuned');
    await mkdir(tuned, { recursive: true });
    await cp(join(tinyModel('tiny-bert'), 'config.json'), join(tuned, 'config.json'));
    const weights = parseSafetensors(new Uint8Array(await readFile(join(tinyModel('tiny-bert'), 'model.safetensors'))));
    const moved = Object.fromEntries(
      [...weights.tensors].map(([name, tensor], k) => [
        name,
        { dtype: 'F32' as const, shape: tensor.shape, data: toFloat32(tensor).map((v, i) => (name.includes('dense') ? v + 0.05 * Math.sin(i + k) : v)) },
      ]),
    );
    await writeFile(join(tuned, 'model.safetensors'), serializeSafetensors(moved));

    const trained = await trainEsmWithModels({
      dataset: REVIEWS,
      datasetOptions: { textColumns: ['title', 'text'], labelColumn: 'label' },
      baseModel: 'tiny-bert',
      tunedModel: 'me/tiny-bert-tuned',
      modelsDir,
      pullMissing: false,
      metadata: { language: 'en' },
      epochs: 3,
      heldOutFraction: 0.2,
    });
    expect(trained.engines).toEqual({ base: 'onnx', tuned: 'tensorflow' });
    expect(trained.pooling).toBe('pooler_output');
    const { texts } = trained.dataset;
    // The pairs are the two models' embeddings of the same texts, by the base model's pooling rule.
    const embedder = await TextEmbedder.load('tiny-bert', { modelsDir, allowRemote: false });
    expect(maxAbsDiff(trained.embeddings.base.data, (await embedder.embed(texts)).data)).toBeLessThan(1e-6);
    await embedder.dispose();
    const expectedTuned = await embedWithTensorflow(tuned, 'pooler_output', texts, { tokenizerFolder: join(modelsDir, 'tiny-bert') });
    expect(maxAbsDiff(trained.embeddings.tuned.data, expectedTuned.data)).toBe(0);
    expect(maxAbsDiff(trained.embeddings.tuned.data, trained.embeddings.base.data)).toBeGreaterThan(1e-3);
    expect(trained.esm.config).toMatchObject({
      task_id: 'reviews',
      base_model_name: 'tiny-bert',
      text_column: ['title', 'text'],
      label_column: 'label',
      language: 'en',
      num_examples: texts.length,
      esm_embedding_dim: 32,
    });
    expect(trained.report.heldOutRows).toBe(4);

    await expect(
      trainEsmWithModels({
        dataset: REVIEWS,
        datasetOptions: { textColumns: 'text', labelColumn: 'label' },
        baseModel: 'tiny-bert',
        tunedModel: 'me/absent',
        modelsDir,
        pullMissing: false,
      }),
    ).rejects.toThrow(/me\/absent has neither onnx\/model\.onnx .* nor model\.safetensors/);
  });
});
