import * as tf from '@tensorflow/tfjs-core';
import type { Pooling } from '../embed/pooling.js';
import type { Parameter } from '../tf/adamw.js';
import { activate, type DropoutSeeds, dropout, embeddingLookup, layerNorm, linear } from './layers.js';
import type { EncoderConfig } from './model-config.js';

/** Which part of the model a parameter belongs to; masking scopes and the fresh target head use it. */
export type ParameterGroup = 'embeddings' | 'encoder' | 'head';
/** `linear`: an nn.Linear weight matrix (what DPS selects from); `embedding` tables and `linear` weights get weight decay. */
export type ParameterKind = 'embedding' | 'linear' | 'bias' | 'norm';

export interface ParameterSpec {
  /** The name in HF's BertModel / DistilBertModel state dict, or `classifier.*` / `pre_classifier.*`. */
  readonly name: string;
  readonly shape: readonly number[];
  readonly kind: ParameterKind;
  readonly group: ParameterGroup;
}

export interface ModelParameter extends Parameter, ParameterSpec {}

/** Token ids of a batch of sequences right-padded to one length; token types are all 0, as hfselect passes none. */
export interface TokenBatch {
  readonly size: number;
  readonly length: number;
  readonly inputIds: Int32Array;
  readonly attentionMask: Int32Array;
}

/** torch.finfo(torch.float32).min, HF's additive attention mask value (get_extended_attention_mask). */
const MASKED_SCORE = -3.4028234663852886e38;

function linearSpecs(prefix: string, inputs: number, outputs: number, group: ParameterGroup): ParameterSpec[] {
  return [
    { name: `${prefix}.weight`, shape: [outputs, inputs], kind: 'linear', group },
    { name: `${prefix}.bias`, shape: [outputs], kind: 'bias', group },
  ];
}

function normSpecs(prefix: string, size: number, group: ParameterGroup): ParameterSpec[] {
  return [
    { name: `${prefix}.weight`, shape: [size], kind: 'norm', group },
    { name: `${prefix}.bias`, shape: [size], kind: 'norm', group },
  ];
}

/** The encoder's parameters (as HF names and shapes them), in state-dict order. */
export function encoderSpecs(config: EncoderConfig): ParameterSpec[] {
  const h = config.hiddenSize;
  const specs: ParameterSpec[] = [
    { name: 'embeddings.word_embeddings.weight', shape: [config.vocabSize, h], kind: 'embedding', group: 'embeddings' },
    { name: 'embeddings.position_embeddings.weight', shape: [config.maxPositions, h], kind: 'embedding', group: 'embeddings' },
  ];
  if (config.architecture === 'bert') {
    specs.push({ name: 'embeddings.token_type_embeddings.weight', shape: [config.typeVocabSize, h], kind: 'embedding', group: 'embeddings' });
  }
  specs.push(...normSpecs('embeddings.LayerNorm', h, 'embeddings'));
  for (let i = 0; i < config.numLayers; i++) {
    if (config.architecture === 'bert') {
      const layer = `encoder.layer.${i}`;
      for (const part of ['query', 'key', 'value']) specs.push(...linearSpecs(`${layer}.attention.self.${part}`, h, h, 'encoder'));
      specs.push(...linearSpecs(`${layer}.attention.output.dense`, h, h, 'encoder'), ...normSpecs(`${layer}.attention.output.LayerNorm`, h, 'encoder'));
      specs.push(...linearSpecs(`${layer}.intermediate.dense`, h, config.intermediateSize, 'encoder'));
      specs.push(...linearSpecs(`${layer}.output.dense`, config.intermediateSize, h, 'encoder'), ...normSpecs(`${layer}.output.LayerNorm`, h, 'encoder'));
    } else {
      const layer = `transformer.layer.${i}`;
      for (const part of ['q_lin', 'k_lin', 'v_lin', 'out_lin']) specs.push(...linearSpecs(`${layer}.attention.${part}`, h, h, 'encoder'));
      specs.push(...normSpecs(`${layer}.sa_layer_norm`, h, 'encoder'));
      specs.push(
        ...linearSpecs(`${layer}.ffn.lin1`, h, config.intermediateSize, 'encoder'),
        ...linearSpecs(`${layer}.ffn.lin2`, config.intermediateSize, h, 'encoder'),
      );
      specs.push(...normSpecs(`${layer}.output_layer_norm`, h, 'encoder'));
    }
  }
  // The pooler belongs to BertModel (hfselect's embedding is its output), so it stays with the encoder.
  if (config.architecture === 'bert') specs.push(...linearSpecs('pooler.dense', h, h, 'encoder'));
  return specs;
}

/** BertForSequenceClassification's `classifier`, or DistilBertForSequenceClassification's `pre_classifier` + `classifier`. */
export function headSpecs(config: EncoderConfig, numLabels: number): ParameterSpec[] {
  const h = config.hiddenSize;
  const pre = config.architecture === 'distilbert' ? linearSpecs('pre_classifier', h, h, 'head') : [];
  return [...pre, ...linearSpecs('classifier', h, numLabels, 'head')];
}

/**
 * The transformer of BERT or DistilBERT (HF's BertModel / DistilBertModel up to the last hidden
 * states) on TensorFlow.js variables, for training with autodiff; the heads (sequence
 * classification, masked language modelling) extend it. Hidden states are kept flat,
 * [batch·length, hidden], so every dense layer is one 2-D matMul.
 */
export class TransformerEncoder {
  private readonly byName: Map<string, tf.Variable>;

  constructor(
    readonly config: EncoderConfig,
    /** Encoder parameters, then the head's, each with its HF name. */
    readonly parameters: readonly ModelParameter[],
  ) {
    this.byName = new Map(parameters.map((p) => [p.name, p.variable]));
  }

  protected p(name: string): tf.Variable {
    const variable = this.byName.get(name);
    if (!variable) throw new Error(`the model has no parameter ${name}`);
    return variable;
  }

  protected dense(x: tf.Tensor2D, prefix: string): tf.Tensor2D {
    return linear(x, this.p(`${prefix}.weight`), this.p(`${prefix}.bias`));
  }

  protected norm(x: tf.Tensor2D, prefix: string): tf.Tensor2D {
    return layerNorm(x, this.p(`${prefix}.weight`), this.p(`${prefix}.bias`), this.config.layerNormEps);
  }

  /** The last hidden states, [size·length, hidden]. */
  hiddenStates(batch: TokenBatch, seeds: DropoutSeeds): tf.Tensor2D {
    const { config } = this;
    const { size, length } = batch;
    const h = config.hiddenSize;
    const heads = config.numHeads;
    const headSize = h / heads;
    const tokens = size * length;
    if (length > config.maxPositions) throw new RangeError(`sequences of ${length} tokens exceed the model's ${config.maxPositions} positions`);

    let x = tf.reshape(embeddingLookup(this.p('embeddings.word_embeddings.weight'), tf.tensor1d(batch.inputIds, 'int32')), [size, length, h]);
    x = tf.add(x, tf.slice(this.p('embeddings.position_embeddings.weight'), [0, 0], [length, h]));
    if (config.architecture === 'bert') x = tf.add(x, tf.slice(this.p('embeddings.token_type_embeddings.weight'), [0, 0], [1, h]));
    let hidden = dropout(this.norm(tf.reshape(x, [tokens, h]), 'embeddings.LayerNorm'), config.hiddenDropout, seeds);

    // 0 where attended, float32's minimum where padded, broadcast over heads and query positions.
    const scoreMask = tf.reshape(tf.mul(tf.sub(1, tf.tensor1d(batch.attentionMask, 'float32')), MASKED_SCORE), [size, 1, 1, length]);
    const splitHeads = (t: tf.Tensor2D) => tf.transpose(tf.reshape(t, [size, length, heads, headSize]), [0, 2, 1, 3]);
    const attention = (input: tf.Tensor2D, q: string, k: string, v: string): tf.Tensor2D => {
      // DistilBERT scales q before the product, BERT the scores after it: the same up to rounding.
      const scores = tf.mul(tf.matMul(splitHeads(this.dense(input, q)), splitHeads(this.dense(input, k)), false, true), 1 / Math.sqrt(headSize));
      const probabilities = dropout(tf.softmax(tf.add(scores, scoreMask)), config.attentionDropout, seeds);
      const context = tf.matMul(probabilities, splitHeads(this.dense(input, v)));
      return tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [tokens, h]);
    };

    for (let i = 0; i < config.numLayers; i++) {
      if (config.architecture === 'bert') {
        const layer = `encoder.layer.${i}`;
        const context = attention(hidden, `${layer}.attention.self.query`, `${layer}.attention.self.key`, `${layer}.attention.self.value`);
        const attended = this.norm(
          tf.add(dropout(this.dense(context, `${layer}.attention.output.dense`), config.hiddenDropout, seeds), hidden),
          `${layer}.attention.output.LayerNorm`,
        );
        const intermediate = activate(this.dense(attended, `${layer}.intermediate.dense`), config.activation);
        hidden = this.norm(
          tf.add(dropout(this.dense(intermediate, `${layer}.output.dense`), config.hiddenDropout, seeds), attended),
          `${layer}.output.LayerNorm`,
        );
      } else {
        const layer = `transformer.layer.${i}`;
        const context = attention(hidden, `${layer}.attention.q_lin`, `${layer}.attention.k_lin`, `${layer}.attention.v_lin`);
        const attended = this.norm(tf.add(this.dense(context, `${layer}.attention.out_lin`), hidden), `${layer}.sa_layer_norm`);
        const intermediate = activate(this.dense(attended, `${layer}.ffn.lin1`), config.activation);
        hidden = this.norm(tf.add(dropout(this.dense(intermediate, `${layer}.ffn.lin2`), config.hiddenDropout, seeds), attended), `${layer}.output_layer_norm`);
      }
    }
    return hidden;
  }

  /** Copies of every parameter's values, by HF name. */
  snapshot(): Map<string, Float32Array> {
    return new Map(this.parameters.map(({ name, variable }) => [name, Float32Array.from(variable.dataSync())]));
  }

  /** Sets the parameters from a snapshot (every name must be there). */
  restore(values: ReadonlyMap<string, Float32Array>): void {
    for (const { name, variable, shape } of this.parameters) {
      const value = values.get(name);
      if (!value) throw new Error(`the snapshot has no ${name}`);
      tf.tidy(() => variable.assign(tf.tensor(value, [...shape])));
    }
  }

  dispose(): void {
    for (const { variable } of this.parameters) variable.dispose();
  }
}

/**
 * A BERT or DistilBERT sequence classifier (HF's …ForSequenceClassification): the encoder, hfselect's
 * pooling of it, and the classification head.
 */
export class SequenceClassifier extends TransformerEncoder {
  constructor(
    config: EncoderConfig,
    readonly pooling: Pooling,
    readonly numLabels: number,
    /** Encoder parameters, then the head's, each with its HF name. */
    parameters: readonly ModelParameter[],
  ) {
    super(config, parameters);
  }

  private firstTokens(hidden: tf.Tensor2D, batch: TokenBatch): tf.Tensor2D {
    const h = this.config.hiddenSize;
    return tf.reshape(tf.slice(tf.reshape(hidden, [batch.size, batch.length, h]), [0, 0, 0], [batch.size, 1, h]), [batch.size, h]);
  }

  private bertPooler(hidden: tf.Tensor2D, batch: TokenBatch): tf.Tensor2D {
    return tf.tanh(this.dense(this.firstTokens(hidden, batch), 'pooler.dense'));
  }

  /** hfselect's pooled embedding of each sequence (evaluation mode: no dropout), [size, hidden]. */
  embed(batch: TokenBatch): tf.Tensor2D {
    return tf.tidy(() => {
      const hidden = this.hiddenStates(batch, null);
      switch (this.pooling) {
        case 'pooler_output':
          return this.bertPooler(hidden, batch);
        case 'first_token':
          return this.firstTokens(hidden, batch);
        case 'mean': {
          // Σₜ mₜhₜ / max(Σₜ mₜ, 1e-9), sentence-transformers' mean pooling.
          const mask = tf.reshape(tf.tensor1d(batch.attentionMask, 'float32'), [batch.size, batch.length, 1]);
          const summed = tf.sum(tf.mul(tf.reshape(hidden, [batch.size, batch.length, this.config.hiddenSize]), mask), 1);
          return tf.div(summed, tf.maximum(tf.sum(mask, 1), 1e-9));
        }
      }
    });
  }

  /** The classification (or regression) outputs, [size, numLabels], as …ForSequenceClassification computes them. */
  logits(batch: TokenBatch, seeds: DropoutSeeds): tf.Tensor2D {
    const hidden = this.hiddenStates(batch, seeds);
    const { classifierDropout } = this.config;
    if (this.config.architecture === 'bert') return this.dense(dropout(this.bertPooler(hidden, batch), classifierDropout, seeds), 'classifier');
    const pre = tf.relu(this.dense(this.firstTokens(hidden, batch), 'pre_classifier'));
    return this.dense(dropout(pre, classifierDropout, seeds), 'classifier');
  }
}
