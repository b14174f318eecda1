import { z } from 'zod';
import { UserInputError } from '../errors.js';

/** The activations of the feed-forward block that HF's BERT and DistilBERT configs name. */
export const ACTIVATIONS = ['gelu', 'relu', 'gelu_new', 'gelu_pytorch_tanh'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

export const ARCHITECTURES = ['bert', 'distilbert'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

/**
 * One shape for BERT and DistilBERT, in BertConfig's terms; `architecture` decides the parameter
 * names and the differences in the forward pass (DistilBERT has no token types and no pooler, and
 * classifies through `pre_classifier`).
 */
export interface EncoderConfig {
  readonly architecture: Architecture;
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly intermediateSize: number;
  readonly maxPositions: number;
  /** 0 for DistilBERT. */
  readonly typeVocabSize: number;
  readonly layerNormEps: number;
  readonly activation: Activation;
  readonly hiddenDropout: number;
  readonly attentionDropout: number;
  /** Before the classifier: BERT's `classifier_dropout ?? hidden_dropout_prob`, DistilBERT's `seq_classif_dropout`. */
  readonly classifierDropout: number;
  readonly initializerRange: number;
}

const probability = z.number().min(0).max(1);
const positive = z.number().int().positive();

const bertSchema = z.looseObject({
  model_type: z.literal('bert'),
  vocab_size: positive,
  hidden_size: positive,
  num_hidden_layers: positive,
  num_attention_heads: positive,
  intermediate_size: positive,
  max_position_embeddings: positive,
  type_vocab_size: positive.default(2),
  layer_norm_eps: z.number().positive().default(1e-12),
  hidden_act: z.enum(ACTIVATIONS).default('gelu'),
  hidden_dropout_prob: probability.default(0.1),
  attention_probs_dropout_prob: probability.default(0.1),
  classifier_dropout: probability.nullish(),
  initializer_range: z.number().positive().default(0.02),
  position_embedding_type: z.literal('absolute', { message: 'only "absolute" position embeddings are supported' }).default('absolute'),
});

const distilbertSchema = z.looseObject({
  model_type: z.literal('distilbert'),
  vocab_size: positive,
  dim: positive,
  n_layers: positive,
  n_heads: positive,
  hidden_dim: positive,
  max_position_embeddings: positive,
  activation: z.enum(ACTIVATIONS).default('gelu'),
  dropout: probability.default(0.1),
  attention_dropout: probability.default(0.1),
  seq_classif_dropout: probability.default(0.2),
  initializer_range: z.number().positive().default(0.02),
  sinusoidal_pos_embds: z.literal(false, { message: 'sinusoidal position embeddings are not supported' }).default(false),
});

const configSchema = z.discriminatedUnion('model_type', [bertSchema, distilbertSchema]);

/** Reads a Hugging Face config.json (BERT or DistilBERT); `source` names it in error messages. */
export function parseEncoderConfig(raw: unknown, source: string): EncoderConfig {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.join('.') || 'model_type';
    const message = field === 'model_type' ? `model_type must be one of ${ARCHITECTURES.join(', ')}` : issue.message;
    throw new UserInputError(`model: ${source}: config.json: ${field}: ${message}`, 'model');
  }
  const c = parsed.data;
  const config: EncoderConfig =
    c.model_type === 'bert'
      ? {
          architecture: 'bert',
          vocabSize: c.vocab_size,
          hiddenSize: c.hidden_size,
          numLayers: c.num_hidden_layers,
          numHeads: c.num_attention_heads,
          intermediateSize: c.intermediate_size,
          maxPositions: c.max_position_embeddings,
          typeVocabSize: c.type_vocab_size,
          layerNormEps: c.layer_norm_eps,
          activation: c.hidden_act,
          hiddenDropout: c.hidden_dropout_prob,
          attentionDropout: c.attention_probs_dropout_prob,
          classifierDropout: c.classifier_dropout ?? c.hidden_dropout_prob,
          initializerRange: c.initializer_range,
        }
      : {
          architecture: 'distilbert',
          vocabSize: c.vocab_size,
          hiddenSize: c.dim,
          numLayers: c.n_layers,
          numHeads: c.n_heads,
          intermediateSize: c.hidden_dim,
          maxPositions: c.max_position_embeddings,
          typeVocabSize: 0,
          // DistilBERT hard-codes LayerNorm(eps=1e-12).
          layerNormEps: 1e-12,
          activation: c.activation,
          hiddenDropout: c.dropout,
          attentionDropout: c.attention_dropout,
          classifierDropout: c.seq_classif_dropout,
          initializerRange: c.initializer_range,
        };
  if (config.hiddenSize % config.numHeads !== 0) {
    throw new UserInputError(
      `model: ${source}: config.json: the hidden size ${config.hiddenSize} is not a multiple of the ${config.numHeads} attention heads`,
      'model',
    );
  }
  return config;
}
