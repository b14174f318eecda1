import { z } from 'zod';
import { MODEL_NAME } from '../embed/model-folder.js';

const optionalString = z.string().nullish();
const optionalNumber = z.number().nullish();

/**
 * hfselect's ESMConfig, field for field (`esmconfig.py`). Unknown fields are kept, so a config
 * survives import and export unchanged. `base_model_name` and `task_id` are required, as in
 * `ESMConfig.is_valid`; only the linear architecture exists. `base_model_name` must be a model name
 * as on the Hugging Face Hub (it names a folder under the models directory when the ESM's base
 * model is fine-tuned or embedded with), so a config cannot point outside it (`../../etc`).
 */
export const esmConfigSchema = z.looseObject({
  base_model_name: z
    .string()
    .min(1, 'must be a non-empty string')
    .regex(MODEL_NAME, 'must be a Hugging Face model name: "name" or "org/name" of letters, digits and "._-"'),
  task_id: z.string().min(1, 'must be a non-empty string'),
  task_subset: optionalString,
  text_column: z.union([z.string(), z.array(z.string())]).nullish(),
  label_column: optionalString,
  task_split: optionalString,
  num_examples: optionalNumber,
  seed: optionalNumber,
  language: optionalString,
  esm_architecture: z.literal('linear', { message: 'only the "linear" ESM architecture is supported' }),
  esm_embedding_dim: z.number().int().positive(),
  lm_num_epochs: optionalNumber,
  lm_batch_size: optionalNumber,
  lm_learning_rate: optionalNumber,
  lm_weight_decay: optionalNumber,
  lm_optimizer: optionalString,
  esm_num_epochs: optionalNumber,
  esm_batch_size: optionalNumber,
  esm_learning_rate: optionalNumber,
  esm_weight_decay: optionalNumber,
  esm_optimizer: optionalString,
  developers: optionalString,
  version: optionalString,
});

export type EsmConfig = z.infer<typeof esmConfigSchema>;

/** hfselect 0.1.0 stored the linear layer as `sequential.0`; later versions as `model`. */
export const LEGACY_VERSION = '0.1.0';

/** Describes what is wrong with a config in one line, or returns the parsed config. */
export function parseEsmConfig(value: unknown): { config: EsmConfig } | { problem: string } {
  const result = esmConfigSchema.safeParse(value);
  if (result.success) return { config: result.data };
  const issue = result.error.issues[0];
  const field = issue.path.join('.') || '(root)';
  return { problem: `config.json: ${field}: ${issue.message}` };
}
