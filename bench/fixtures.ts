/** What the fine-tuning benchmarks train: random-weight encoders on tiny-bert's vocabulary and tokenizer, and a synthetic task. */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encoderSpecs } from '../src/finetune/encoder.js';
import { parseEncoderConfig } from '../src/finetune/model-config.js';
import { serializeSafetensors, type TensorToWrite } from '../src/io/safetensors.js';
import { seededUniform } from '../src/random.js';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const TINY = join(ROOT, 'models', 'tiny-bert');

/**
 * The encoders measured, random weights on tiny-bert's vocabulary: the committed fixture's shape,
 * and prajjwal1/bert-tiny's (one of hfselect's base models), whose step costs more next to the mask.
 */
export const MODELS = {
  tiny: { hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64 },
  'bert-tiny': { hidden_size: 128, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 512 },
} as const;
export type ModelSize = keyof typeof MODELS;

/** A model folder with tiny-bert's tokenizer and a random BERT of the given shape (seeded). */
export async function makeModel(size: ModelSize, folder: string): Promise<void> {
  const raw = { ...JSON.parse(await readFile(join(TINY, 'config.json'), 'utf8')), ...MODELS[size] };
  const uniform = seededUniform(7);
  const tensors: Record<string, TensorToWrite> = {};
  for (const spec of encoderSpecs(parseEncoderConfig(raw, folder))) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const scale = spec.kind === 'norm' && spec.name.endsWith('weight') ? 0 : spec.kind === 'linear' ? 1 / Math.sqrt(spec.shape[1]) : 0.1;
    const offset = spec.kind === 'norm' && spec.name.endsWith('weight') ? 1 : 0;
    tensors[spec.name] = { dtype: 'F32', shape: spec.shape, data: Float32Array.from({ length: count }, () => offset + (2 * uniform() - 1) * scale) };
  }
  await writeFile(join(folder, 'config.json'), JSON.stringify(raw));
  await writeFile(join(folder, 'model.safetensors'), serializeSafetensors(tensors));
  for (const file of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt'])
    await writeFile(join(folder, file), await readFile(join(TINY, file)));
}

/** 32-word texts (34 tokens with [CLS] and [SEP]) with a keyword label, as the synthetic test tasks, longer. */
export function benchTask(size: number) {
  const words =
    'the a and of to in it this that was is with for on at by from about as one two day time people place world life home city year week good great bad awful'.split(
      ' ',
    );
  const uniform = seededUniform(3);
  const texts = Array.from({ length: size }, () => Array.from({ length: 32 }, () => words[Math.floor(uniform() * words.length)]).join(' '));
  return { id: 'bench', task: 'classification' as const, texts, labels: texts.map((t) => (t.includes('good') ? 'pos' : 'neg')) };
}
