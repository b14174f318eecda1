/**
 * `npm run pretrain`: makes models/wordnet-bert from the shipped WordNet corpus, deterministically
 * from the plan's seed (pretrain/config.ts):
 *
 *   1. corpus: corpora/wordnet/wordnet-3.0.tsv.br, one text per synset (`pretrainingText`); a seeded
 *      set of synsets is held out of everything below but the final accuracy;
 *   2. vocabulary: a WordPiece vocabulary learnt from the training texts (pretrain/wordpiece.ts);
 *   3. pretraining: BERT's masked-language-model objective on the TensorFlow.js encoder (src/finetune/mlm.ts);
 *   4. export: a Hugging Face folder (safetensors, ONNX, tokenizer, sentence-transformers pooling,
 *      model card), checked by loading it back through the embedder and the runner.
 *
 * It prints the held-out MLM accuracy of the pretrained model against the same model before
 * training (random weights) and writes both into the model card.
 *
 *   npm run pretrain [-- --out DIR] [--smoke]
 */
import { createHash } from 'node:crypto';
import { copyFile, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { TextEmbedder } from '../src/embed/embedder.js';
import { createClassifier, readModelFolder } from '../src/finetune/checkpoint.js';
import { createMaskedLanguageModel, loadMaskedLanguageModel, type MaskingOptions } from '../src/finetune/mlm.js';
import type { EncoderConfig } from '../src/finetune/model-config.js';
import { loadTokenizer, padBatch } from '../src/finetune/tokenize.js';
import { writeFileAtomic } from '../src/io/atomic.js';
import { seededUniform, shuffleInPlace } from '../src/random.js';
import { loadTensorflow } from '../src/tf/backend.js';
import { streamSeed } from '../study/tasks.js';
import { CORPUS_FILE, readCorpus } from '../study/wordnet/corpus.js';
import { modelCard, type PretrainingFacts } from './card.js';
import { PLAN, pretrainingText, SMOKE_PLAN } from './config.js';
import { exportModelFolder } from './export.js';
import { evaluationBatches, maskedAccuracy, pretrain } from './train.js';
import { preTokenize, SPECIAL_TOKENS, saveTokenizer, trainWordPiece, wordPieces } from './wordpiece.js';

const log = (line: string) => process.stderr.write(`${line}\n`);
const minutes = (seconds: number) => `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;

async function folderBytes(folder: string): Promise<Record<string, number>> {
  const sizes: Record<string, number> = {};
  for (const entry of await readdir(folder, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) sizes[relative(folder, join(entry.parentPath, entry.name))] = (await stat(join(entry.parentPath, entry.name))).size;
  }
  return sizes;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' }, smoke: { type: 'boolean', default: false } } });
  const plan = values.smoke ? SMOKE_PLAN : PLAN;
  const out = resolve(values.out ?? (values.smoke ? 'pretrain-smoke/wordnet-bert' : 'models/wordnet-bert'));
  const started = performance.now();
  const tensorflow = await loadTensorflow();
  log(`pretrain${values.smoke ? ' (smoke)' : ''}: seed ${plan.seed}; ${tensorflow.description}`);

  // 1. Corpus.
  const corpusBytes = await readFile(CORPUS_FILE);
  const corpusSha256 = createHash('sha256').update(corpusBytes).digest('hex');
  const synsets = (await readCorpus()).slice(0, plan.limit);
  const texts = synsets.map(pretrainingText);
  const order = shuffleInPlace(Int32Array.from(texts.keys()), seededUniform(streamSeed(plan.seed, 0)));
  const heldOutRows = new Set(order.subarray(0, plan.heldOut));
  const trainingTexts = texts.filter((_, i) => !heldOutRows.has(i));
  const heldOutTexts = texts.filter((_, i) => heldOutRows.has(i));
  log(`corpus: ${synsets.length} synsets (sha256 ${corpusSha256.slice(0, 12)}…), ${trainingTexts.length} for training, ${heldOutTexts.length} held out`);

  // 2. Vocabulary.
  let t = performance.now();
  const vocabulary = trainWordPiece(trainingTexts, { vocabSize: plan.vocabSize });
  const pieceSet = new Set(vocabulary);
  let words = 0;
  let pieces = 0;
  for (const text of trainingTexts)
    for (const word of preTokenize(text)) {
      words++;
      pieces += wordPieces(word, pieceSet).length;
    }
  const vocabularySeconds = (performance.now() - t) / 1000;
  log(`vocabulary: ${vocabulary.length} WordPiece pieces in ${vocabularySeconds.toFixed(1)} s, ${(pieces / words).toFixed(3)} pieces per word`);
  const staging = `${out}.tmp-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await saveTokenizer(staging, vocabulary, plan.maxLength);
  const tokenizer = await loadTokenizer(staging, plan.maxLength);
  const training = tokenizer.tokenize(trainingTexts);
  const heldOut = tokenizer.tokenize(heldOutTexts);
  const trainingTokens = training.reduce((n, s) => n + s.length, 0);
  log(
    `tokenised: ${trainingTokens} training tokens (${(trainingTokens / training.length).toFixed(1)} per text), ${heldOut.reduce((n, s) => n + s.length, 0)} held out`,
  );

  // 3. Pretraining, with the held-out accuracy before and after.
  const config: EncoderConfig = { ...plan.model, vocabSize: vocabulary.length };
  const model = createMaskedLanguageModel(config, plan.seed);
  const masking: MaskingOptions = {
    vocabSize: vocabulary.length,
    maskTokenId: vocabulary.indexOf('[MASK]'),
    specialIds: new Set(SPECIAL_TOKENS.map((s) => vocabulary.indexOf(s))),
  };
  const evaluation = evaluationBatches(heldOut, 128, masking, streamSeed(plan.seed, 4));
  const before = maskedAccuracy(model, evaluation);
  // The most frequent training token (special tokens aside) predicted everywhere: what word counts alone give.
  const counts = new Map<number, number>();
  for (const s of training) for (const id of s) if (!masking.specialIds.has(id)) counts.set(id, (counts.get(id) ?? 0) + 1);
  const commonest = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0][0];
  const unigram = evaluation.reduce((n, b) => n + b.labels.filter((id) => id === commonest).length, 0) / before.tokens;
  log(
    `held out: ${before.tokens} masked tokens; accuracy before pretraining ${(100 * before.accuracy).toFixed(2)} %, always "${vocabulary[commonest]}" ${(100 * unigram).toFixed(2)} %`,
  );
  const parameters = model.parameters.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
  log(`pretraining: ${parameters} parameters, ${plan.training.epochs} epoch(s) of ${Math.ceil(training.length / plan.training.batchSize)} steps`);
  t = performance.now();
  const run = await pretrain(model, training, { ...plan.training, seed: plan.seed }, masking, (p) =>
    log(
      `  step ${p.step}/${p.totalSteps} (epoch ${p.epoch}): loss ${p.loss.toFixed(3)}, lr ${p.learningRate.toExponential(2)}, ${Math.round(p.tokensPerSecond)} tokens/s, ${minutes(p.etaSeconds)} left`,
    ),
  );
  const after = maskedAccuracy(model, evaluation);
  log(
    `pretrained in ${minutes(run.seconds)}: held-out MLM accuracy ${(100 * after.accuracy).toFixed(2)} % (random weights ${(100 * before.accuracy).toFixed(2)} %)`,
  );

  // 4. Export, then load the folder back through the embedder (ONNX) and the runner (safetensors).
  const facts: Omit<PretrainingFacts, 'files' | 'embedderDifference'> = {
    plan,
    config,
    corpusSha256,
    synsets: synsets.length,
    trainingTexts: training.length,
    heldOutTexts: heldOut.length,
    trainingTokens,
    piecesPerWord: pieces / words,
    parameters,
    steps: run.steps,
    seconds: run.seconds,
    finalLoss: run.finalLoss,
    maskedTokens: before.tokens,
    accuracy: { random: before.accuracy, unigram, pretrained: after.accuracy },
    unigramToken: vocabulary[commonest],
    backend: tensorflow.choice,
  };
  await exportModelFolder(staging, model, vocabulary);
  await copyFile(join(dirname(CORPUS_FILE), 'LICENSE'), join(staging, 'WORDNET-LICENSE'));
  const reloaded = loadMaskedLanguageModel(await readModelFolder(staging));
  const reloadedAccuracy = maskedAccuracy(reloaded, evaluation).accuracy;
  reloaded.dispose();
  model.dispose();
  if (reloadedAccuracy !== after.accuracy) throw new Error(`the saved weights give ${reloadedAccuracy}, the trained model ${after.accuracy}`);
  await rm(out, { recursive: true, force: true });
  await rename(staging, out);

  const sample = heldOutTexts.slice(0, 64);
  const embedder = await TextEmbedder.load(basename(out), { modelsDir: dirname(out) });
  const onnx = await embedder.embed(sample);
  await embedder.dispose();
  const runner = createClassifier(await readModelFolder(out), { pooling: embedder.pooling, numLabels: 2, seed: 0 });
  const tfjs = runner.embed(padBatch(tokenizer.tokenize(sample), Int32Array.from(sample.keys()))).dataSync();
  runner.dispose();
  const embedderDifference = Math.max(...Array.from(tfjs, (v, i) => Math.abs(v - onnx.data[i])));
  if (!(embedderDifference < 1e-4)) throw new Error(`the ONNX graph and the TF.js encoder differ by ${embedderDifference}`);
  const files = await folderBytes(out);
  await writeFileAtomic(join(out, 'README.md'), modelCard({ ...facts, files, embedderDifference }));
  const total = Object.values(files).reduce((a, b) => a + b, 0);
  log(
    `wrote ${relative(process.cwd(), out)}: ${(total / 1e6).toFixed(2)} MB (${embedder.pooling} pooling; embedder vs TF.js encoder max |Δ| ${embedderDifference.toExponential(1)}); ${minutes((performance.now() - started) / 1000)} in all`,
  );
}

await main();
