import type { EncoderConfig } from '../src/finetune/model-config.js';
import type { PretrainingPlan } from './config.js';

/** What a pretraining run measured, for the model card. */
export interface PretrainingFacts {
  readonly plan: PretrainingPlan;
  readonly config: EncoderConfig;
  readonly corpusSha256: string;
  readonly synsets: number;
  readonly trainingTexts: number;
  readonly heldOutTexts: number;
  readonly trainingTokens: number;
  readonly piecesPerWord: number;
  readonly parameters: number;
  readonly steps: number;
  readonly seconds: number;
  readonly finalLoss: number;
  readonly maskedTokens: number;
  readonly accuracy: { readonly random: number; readonly unigram: number; readonly pretrained: number };
  readonly unigramToken: string;
  readonly backend: string;
  /** Bytes of each file of the folder, the card aside. */
  readonly files: Readonly<Record<string, number>>;
  /** Largest |ONNX − TF.js| of a mean-pooled embedding over 64 held-out texts. */
  readonly embedderDifference: number;
}

const percent = (x: number) => `${(100 * x).toFixed(2)} %`;
const size = (bytes: number) => (bytes < 1e5 ? `${(bytes / 1e3).toFixed(1)} kB` : `${(bytes / 1e6).toFixed(2)} MB`);

/** The model card (README.md) of the pretrained folder, written by `npm run pretrain` from its own measurements. */
export function modelCard(f: PretrainingFacts): string {
  const c = f.config;
  const t = f.plan.training;
  const files = Object.entries(f.files).sort(([a], [b]) => (a < b ? -1 : 1));
  const total = files.reduce((n, [, bytes]) => n + bytes, 0);
  return `# wordnet-bert

A small BERT pretrained with masked language modelling on the glosses of WordNet 3.0, made by
esmselect (\`npm run pretrain\`, pretrain/) so that the study and the demo run on a model whose
embeddings carry meaning. It is not a general-purpose English model: it has read ${(f.trainingTokens / 1e6).toFixed(1)} million
tokens of dictionary definitions and usage examples, nothing else. This card is written by the
script that made the model; every figure below is from that run.

## What it is

- A \`BertForMaskedLM\` checkpoint: ${c.numLayers} layers, hidden size ${c.hiddenSize}, ${c.numHeads} attention heads, feed-forward ${c.intermediateSize}, ${c.activation.toUpperCase()},
  ${c.maxPositions} positions, dropout ${c.hiddenDropout}; ${f.parameters.toLocaleString('en-US')} parameters, ${c.vocabSize.toLocaleString('en-US')} of them ×${c.hiddenSize} in the word
  embeddings, which the prediction head shares (tied).
- A lower-cased BERT WordPiece tokenizer with ${c.vocabSize.toLocaleString('en-US')} pieces learnt from the same corpus
  (${f.piecesPerWord.toFixed(2)} pieces per word of it).
- In the sentence-transformers layout with **mean pooling** (modules.json, 1_Pooling/): hfselect, and
  esmselect after it, mean-pool a model in that layout. \`model.safetensors\` holds the weights for
  the fine-tuning runner and transformers (\`bert.…\`, \`cls.predictions.…\`), \`onnx/model.onnx\` the
  encoder up to \`last_hidden_state\` for the embedder (transformers.js).

Why mean pooling and not BERT's \`pooler_output\`: the model was pretrained by masked language
modelling alone, without BERT's next-sentence task, so nothing ever trained a pooler
(BertForMaskedLM has none) and the [CLS] state is never predicted from. What the objective did train
is every token's last hidden state, each of which must predict its word from the whole text, so
their mean is the representation that carries the text's content. A fine-tune
(BertForSequenceClassification) starts from a freshly initialised pooler, as fine-tunes of
RoBERTa and other MLM-only models do.

## How it was made

1. **Corpus**: corpora/wordnet/wordnet-3.0.tsv.br (sha256 \`${f.corpusSha256}\`), derived from
   Debian's wordnet-base by pretrain/derive-corpus.ts. One text per synset: its words, then its
   gloss (\`dog, domestic dog, Canis familiaris: a member of the genus Canis …; "the dog barked all
   night"\`). Of the ${f.synsets.toLocaleString('en-US')} synsets, ${f.heldOutTexts.toLocaleString('en-US')} (seeded) are held out of the vocabulary and the
   pretraining; the other ${f.trainingTexts.toLocaleString('en-US')} give ${f.trainingTokens.toLocaleString('en-US')} tokens, at most ${f.plan.maxLength} per text.
2. **Vocabulary**: pretrain/wordpiece.ts learns it as the \`tokenizers\` library's WordPieceTrainer
   does (frequency-ranked merges of adjacent pieces, \`##\` for word-internal pieces, pairs seen at
   least twice), after BERT's normaliser and pre-tokeniser.
3. **Pretraining**: BERT's objective on the runner's TensorFlow.js encoder (src/finetune/mlm.ts):
   15 % of the tokens chosen per batch (new masks every epoch), 80 % of them replaced by [MASK],
   10 % by a random piece, 10 % left; HF's initialisation; ${t.epochs} epoch${t.epochs === 1 ? '' : 's'} of batches of ${t.batchSize} texts
   (${f.steps.toLocaleString('en-US')} steps), AdamW at ${t.learningRate} with a linear warm-up over ${100 * t.warmupRatio} % of the steps and linear
   decay, weight decay ${t.weightDecay}, gradients clipped to norm ${t.maxGradNorm}, ${t.dropout ? `dropout ${c.hiddenDropout}` : `no dropout (config.json's ${c.hiddenDropout} is for fine-tunes)`}. Final training loss ${f.finalLoss.toFixed(3)}.
   ${(f.seconds / 60).toFixed(1)} minutes on TensorFlow.js's ${f.backend} backend.
4. **Export and check**: the folder is loaded back through the embedder (ONNX Runtime) and the
   runner (TensorFlow.js); their mean-pooled embeddings of 64 held-out texts agree to ${f.embedderDifference.toExponential(1)}.

Everything random (held-out set, initial weights, batch order, masks, dropout) derives from the seed
${f.plan.seed}, so \`npm run pretrain\` makes the same weights again.

## Held-out masked-token accuracy

Top-1 accuracy on the ${f.maskedTokens.toLocaleString('en-US')} tokens masked (by the rule above, fixed by the seed) in the
${f.heldOutTexts.toLocaleString('en-US')} held-out texts:

| model | accuracy |
|---|---|
| the same model before pretraining (random weights) | ${percent(f.accuracy.random)} |
| always the commonest piece ("${f.unigramToken}") | ${percent(f.accuracy.unigram)} |
| **wordnet-bert** | **${percent(f.accuracy.pretrained)}** |

## Files

| file | size |
|---|---|
${files.map(([name, bytes]) => `| ${name} | ${size(bytes)} |`).join('\n')}
| all (this card aside) | ${size(total)} |

## Limitations

- Tiny and trained on one small, specialised corpus: its language is that of dictionary glosses.
- The study's and the demo's WordNet tasks (study/wordnet/) are drawn from the same glosses:
  pretraining saw their texts (not their labels), as a model pretrained on a large corpus has
  usually seen text like its downstream data.

## Licence

Derived from WordNet 3.0. WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved.
WordNet's licence, which allows use, copying, modification and distribution with its notice kept, is
in WORDNET-LICENSE beside this card (and in corpora/wordnet/LICENSE).
`;
}
