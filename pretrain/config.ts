import type { EncoderConfig } from '../src/finetune/model-config.js';
import type { Synset } from '../study/wordnet/corpus.js';
import type { PretrainingSettings } from './train.js';

/**
 * What `npm run pretrain` makes, fixed before the run. The size is set by two budgets: the model
 * folder stays a few MB (the embedding table, vocabulary × hidden, is stored twice: safetensors for
 * the runner, ONNX for the embedder), and the study fine-tunes this model hundreds of times on 2
 * cores, where a step costs about twice tiny-bert's at hidden 64 and 2 layers and four times at
 * hidden 128. So: BERT with 2 layers, hidden 64, 4 heads of 16, feed-forward 256 (BERT's 4×), and a
 * 6,000-piece WordPiece vocabulary (1.39 pieces per corpus word; 8,192 pieces give 1.31, 4,096 give 1.49).
 *
 * Training: 2 epochs fit the time budget (about 40 minutes on 2 cores). A first run at BERT's usual
 * settings for small models (peak learning rate 1e-3, dropout 0.1) ended at 19.0 % held-out MLM
 * accuracy with base embeddings that separated lexicographer files little better than random
 * weights; on the first 400 steps of the same data, peak 3e-3 without dropout reached a loss of 6.52
 * where 1e-3 with dropout reached 6.77, so the model is pretrained that way. Dropout fights
 * overfitting, and a model this small on 2 epochs underfits; config.json keeps dropout 0.1 for fine-tunes.
 */
export interface PretrainingPlan {
  readonly seed: number;
  readonly vocabSize: number;
  /** Synsets held out of the vocabulary and the pretraining, for the MLM accuracy. */
  readonly heldOut: number;
  /** Tokens per sequence at most, [CLS] and [SEP] included (hfselect's max_length). */
  readonly maxLength: number;
  /** The encoder; vocabSize is filled in from the learnt vocabulary. */
  readonly model: Omit<EncoderConfig, 'vocabSize'>;
  readonly training: Omit<PretrainingSettings, 'seed'>;
  /** Use only the first this many synsets (a smoke run); all when absent. */
  readonly limit?: number;
}

export const PLAN: PretrainingPlan = {
  seed: 20240917,
  vocabSize: 6000,
  heldOut: 2000,
  maxLength: 128,
  model: {
    architecture: 'bert',
    hiddenSize: 64,
    numLayers: 2,
    numHeads: 4,
    intermediateSize: 256,
    maxPositions: 128,
    typeVocabSize: 2,
    layerNormEps: 1e-12,
    activation: 'gelu',
    hiddenDropout: 0.1,
    attentionDropout: 0.1,
    classifierDropout: 0.1,
    initializerRange: 0.02,
  },
  training: { epochs: 2, batchSize: 64, learningRate: 3e-3, warmupRatio: 0.06, weightDecay: 0.01, maxGradNorm: 1, dropout: false },
};

/** `--smoke`: the whole pipeline on 3,000 synsets with a 1,000-piece vocabulary in a minute or two. */
export const SMOKE_PLAN: PretrainingPlan = { ...PLAN, vocabSize: 1000, heldOut: 300, limit: 3000, training: { ...PLAN.training, epochs: 1 } };

/**
 * The text a synset contributes to pretraining, in WordNet's own gloss layout with its words in
 * front: `dog, domestic dog, Canis familiaris: a member of the genus Canis …; "the dog barked all night"`.
 */
export function pretrainingText(synset: Synset): string {
  return `${synset.lemmas.join(', ')}: ${[synset.definition, ...synset.examples.map((e) => `"${e}"`)].join('; ')}`;
}
