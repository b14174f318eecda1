import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLAN, pretrainingText } from '../../pretrain/config.js';
import { evaluationBatches, maskedAccuracy } from '../../pretrain/train.js';
import { SPECIAL_TOKENS } from '../../pretrain/wordpiece.js';
import { TextEmbedder } from '../../src/embed/embedder.js';
import { createClassifier, type ModelFolder, readModelFolder } from '../../src/finetune/checkpoint.js';
import type { TransformerEncoder } from '../../src/finetune/encoder.js';
import { runFinetune } from '../../src/finetune/job.js';
import { createMaskedLanguageModel, loadMaskedLanguageModel, type MaskingOptions } from '../../src/finetune/mlm.js';
import { loadTokenizer, padBatch, type TextTokenizer } from '../../src/finetune/tokenize.js';
import { seededUniform, shuffleInPlace } from '../../src/random.js';
import { loadTensorflow } from '../../src/tf/backend.js';
import { textTask } from '../../study/context.js';
import { streamSeed } from '../../study/tasks.js';
import { readCorpus, type Synset } from '../../study/wordnet/corpus.js';
import { generateWordNetFamily } from '../../study/wordnet/tasks.js';
import { MODELS_ROOT } from '../helpers/finetune.js';

/** The pretrained model npm run pretrain made and the repository ships (models/wordnet-bert/README.md). */
const NAME = 'wordnet-bert';
const FOLDER = join(MODELS_ROOT, NAME);

let corpus: Synset[];
let folder: ModelFolder;
let tokenizer: TextTokenizer;
let scratch: string;
beforeAll(async () => {
  await loadTensorflow();
  corpus = await readCorpus();
  folder = await readModelFolder(FOLDER);
  tokenizer = await loadTokenizer(FOLDER);
  scratch = await mkdtemp(join(tmpdir(), 'esmselect-wordnet-bert-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** Mean-pooled last hidden states (no dropout), as sentence-transformers pools. */
function meanPooled(model: TransformerEncoder, texts: readonly string[]): number[][] {
  const sequences = tokenizer.tokenize(texts);
  const batch = padBatch(sequences, Int32Array.from(sequences.keys()));
  return tf.tidy(() => {
    const hidden = tf.reshape(model.hiddenStates(batch, null), [batch.size, batch.length, model.config.hiddenSize]);
    const mask = tf.reshape(tf.tensor1d(batch.attentionMask, 'float32'), [batch.size, batch.length, 1]);
    return tf.div(tf.sum(tf.mul(hidden, mask), 1), tf.sum(mask, 1)).arraySync() as number[][];
  });
}

/** Leave-one-out nearest-centroid accuracy (cosine) of the lexicographer file from the embeddings. */
function nearestCentroidAccuracy(vectors: number[][], labels: readonly string[]): number {
  const normalised = vectors.map((v) => {
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  });
  const classes = [...new Set(labels)];
  const sums = new Map(classes.map((c) => [c, new Array(normalised[0].length).fill(0) as number[]]));
  normalised.forEach((v, i) => v.forEach((x, k) => (sums.get(labels[i])![k] += x)));
  let correct = 0;
  normalised.forEach((v, i) => {
    let best = '';
    let bestScore = -Infinity;
    for (const c of classes) {
      const centroid = sums.get(c)!.map((x, k) => x - (labels[i] === c ? v[k] : 0));
      const score = centroid.reduce((n, x, k) => n + x * v[k], 0) / Math.hypot(...centroid);
      if (score > bestScore) [best, bestScore] = [c, score];
    }
    correct += best === labels[i] ? 1 : 0;
  });
  return correct / vectors.length;
}

describe('models/wordnet-bert', () => {
  it('is a sentence-transformers BERT whose ONNX graph (embedder) and weights (runner) give the same embeddings', async () => {
    const config = JSON.parse(await readFile(join(FOLDER, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ model_type: 'bert', architectures: ['BertForMaskedLM'], hidden_size: 64, num_hidden_layers: 2, vocab_size: 6000 });
    const texts = [
      'a domesticated carnivorous mammal that barks',
      'travel by foot',
      'Café au lait, (Canis familiaris)!',
      'a long gloss about nothing in particular '.repeat(20),
    ];
    const embedder = await TextEmbedder.load(NAME, { modelsDir: MODELS_ROOT });
    expect(embedder.pooling).toBe('mean');
    expect(embedder.dim).toBe(64);
    const onnx = await embedder.embed(texts);
    await embedder.dispose();
    const runner = createClassifier(folder, { pooling: 'mean', numLabels: 2, seed: 0 });
    const tfjs = runner.embed(padBatch(tokenizer.tokenize(texts), [0, 1, 2, 3]));
    const values = tfjs.dataSync();
    expect(Math.max(...Array.from(values, (v, i) => Math.abs(v - onnx.data[i])))).toBeLessThan(1e-4);
    tfjs.dispose();
    runner.dispose();
  });

  it('predicts masked words of held-out glosses far better than its random-weight twin', () => {
    // The synsets pretrain/main.ts held out, by the same seeded draw.
    const order = shuffleInPlace(Int32Array.from(corpus.keys()), seededUniform(streamSeed(PLAN.seed, 0)));
    const heldOut = Array.from(order.subarray(0, 300), (i) => pretrainingText(corpus[i]));
    const vocabularySize = folder.config.vocabSize;
    const specials = SPECIAL_TOKENS.map((_, id) => id);
    const masking: MaskingOptions = { vocabSize: vocabularySize, maskTokenId: 4, specialIds: new Set(specials) };
    const batches = evaluationBatches(tokenizer.tokenize(heldOut), 100, masking, 1);
    const pretrained = loadMaskedLanguageModel(folder);
    const random = createMaskedLanguageModel(folder.config, PLAN.seed);
    const trained = maskedAccuracy(pretrained, batches);
    const untrained = maskedAccuracy(random, batches);
    expect(trained.tokens).toBeGreaterThan(1000);
    expect(untrained.accuracy).toBeLessThan(0.01);
    // The model card gives 27.7 % on all 2,000 held-out glosses.
    expect(trained.accuracy).toBeGreaterThan(0.2);
    pretrained.dispose();
    random.dispose();
  });

  it('embeds glosses so that their lexicographer files separate, unlike its random-weight twin', () => {
    const files = ['noun.animal', 'noun.artifact', 'noun.food', 'verb.motion', 'verb.communication'];
    const chosen = files.flatMap((file) =>
      corpus
        .filter((s) => s.lexname === file)
        .filter((_, i) => i % 37 === 0)
        .slice(0, 40),
    );
    const texts = chosen.map((s) => s.definition);
    const labels = chosen.map((s) => s.lexname);
    const pretrained = loadMaskedLanguageModel(folder);
    const random = createMaskedLanguageModel(folder.config, PLAN.seed);
    const trained = nearestCentroidAccuracy(meanPooled(pretrained, texts), labels);
    const untrained = nearestCentroidAccuracy(meanPooled(random, texts), labels);
    pretrained.dispose();
    random.dispose();
    // Measured when the model was made: 0.62 against 0.32 (chance: 0.2).
    expect(trained).toBeGreaterThan(0.5);
    expect(trained).toBeGreaterThan(untrained + 0.2);
  });

  it('fine-tunes through the runner on a WordNet task, with the ESM of the fine-tune', async () => {
    const family = generateWordNetFamily(
      corpus.filter((_, i) => i % 10 === 0),
      { targets: 1, sources: 1, targetTrain: 32, targetValidation: 16, targetTest: 16, sourceExamples: 64, minSynsets: 60 },
    );
    const result = await runFinetune({
      model: NAME,
      modelsDir: MODELS_ROOT,
      source: textTask(family.sources[0]),
      target: textTask(family.targets[0]),
      intermediate: { epochs: 1, batchSize: 16, learningRate: 1e-3, seed: 1 },
      targetStage: { epochs: 1, batchSize: 16, learningRate: 1e-3, seed: 2 },
      esm: { seed: 3 },
      outputDir: join(scratch, 'job'),
    });
    expect(result.esm.taskId).toBe(family.sources[0].id);
    expect(result.esm.pairs).toBe(family.sources[0].train.texts.length);
    expect(result.target.evaluationExamples).toBe(16);
  });
});
