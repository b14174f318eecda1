import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type MaskedLanguageModel, saveMaskedLanguageModel } from '../src/finetune/mlm.js';
import type { EncoderConfig } from '../src/finetune/model-config.js';
import { encodeBertOnnx } from '../src/finetune/onnx-export.js';
import { writeFileAtomic } from '../src/io/atomic.js';
import { saveTokenizer } from './wordpiece.js';

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/** config.json as BertConfig.save_pretrained writes it for a BertForMaskedLM. */
export function bertConfigJson(config: EncoderConfig): Record<string, unknown> {
  return {
    architectures: ['BertForMaskedLM'],
    model_type: 'bert',
    attention_probs_dropout_prob: config.attentionDropout,
    classifier_dropout: null,
    hidden_act: config.activation,
    hidden_dropout_prob: config.hiddenDropout,
    hidden_size: config.hiddenSize,
    initializer_range: config.initializerRange,
    intermediate_size: config.intermediateSize,
    layer_norm_eps: config.layerNormEps,
    max_position_embeddings: config.maxPositions,
    num_attention_heads: config.numHeads,
    num_hidden_layers: config.numLayers,
    pad_token_id: 0,
    position_embedding_type: 'absolute',
    tie_word_embeddings: true,
    torch_dtype: 'float32',
    type_vocab_size: config.typeVocabSize,
    use_cache: true,
    vocab_size: config.vocabSize,
  };
}

/**
 * Writes the model as a Hugging Face folder that is both a BertForMaskedLM checkpoint and a
 * sentence-transformers model with mean pooling: config.json, model.safetensors (`bert.…`,
 * `cls.predictions.…`), onnx/model.onnx (the encoder, for the embedder), the tokenizer files,
 * modules.json and 1_Pooling/config.json (so hfselect, and esmselect, pool it by the mean). The
 * model card (README.md) is the caller's.
 */
export async function exportModelFolder(folder: string, model: MaskedLanguageModel, vocabulary: readonly string[]): Promise<void> {
  const { config } = model;
  await mkdir(join(folder, 'onnx'), { recursive: true });
  await mkdir(join(folder, '1_Pooling'), { recursive: true });
  await saveMaskedLanguageModel(model, folder);
  const encoder = new Map(model.parameters.filter((p) => p.group !== 'head').map((p) => [p.name, Float32Array.from(p.variable.dataSync())]));
  await writeFileAtomic(join(folder, 'onnx', 'model.onnx'), encodeBertOnnx(config, encoder, 'esmselect pretrain'));
  await saveTokenizer(folder, vocabulary, config.maxPositions);
  await writeFileAtomic(join(folder, 'config.json'), json(bertConfigJson(config)));
  await writeFileAtomic(
    join(folder, 'modules.json'),
    json([
      { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
      { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
    ]),
  );
  await writeFileAtomic(
    join(folder, '1_Pooling', 'config.json'),
    json({
      word_embedding_dimension: config.hiddenSize,
      pooling_mode_cls_token: false,
      pooling_mode_mean_tokens: true,
      pooling_mode_max_tokens: false,
      pooling_mode_mean_sqrt_len_tokens: false,
    }),
  );
  await writeFileAtomic(join(folder, 'sentence_bert_config.json'), json({ max_seq_length: config.maxPositions, do_lower_case: false }));
}
