import { stringify } from 'yaml';
import type { EsmConfig } from '../esm/config.js';
import { printable } from '../hub/names.js';

/**
 * The model card (README.md) of a published ESM, with the metadata hfselect's `ESM.publish` gives
 * it (`ModelCardData`: license apache-2.0, the task's dataset, the base model, the tags
 * `embedding_space_map` and `BaseLM:<base model>`), so the Hub lists it where hfselect looks for
 * ESMs: under `embedding_space_map` and `base_model:<base model>`. The body names the config's fields.
 * Values are quoted by the YAML writer and made printable in the body: a config can hold any text.
 */
export function esmModelCard(config: EsmConfig): string {
  const metadata = {
    base_model: config.base_model_name,
    datasets: [config.task_id],
    license: 'apache-2.0',
    tags: ['embedding_space_map', `BaseLM:${config.base_model_name}`],
  };
  const value = (v: unknown) =>
    v === null || v === undefined || v === '' ? '' : printable(Array.isArray(v) ? v.join(', ') : String(v), 300).replace(/[\r\n]+/g, ' ');
  const fields: [string, unknown][] = [
    ['Base model', config.base_model_name],
    ['Intermediate task', config.task_id],
    ['Subset', config.task_subset],
    ['Split', config.task_split],
    ['Text column', config.text_column],
    ['Label column', config.label_column],
    ['Examples', config.num_examples],
    ['Language', config.language],
    ['ESM architecture', config.esm_architecture],
    ['ESM embedding dimension', config.esm_embedding_dim],
    ['ESM version', config.version],
  ];
  return [
    '---',
    stringify(metadata, { lineWidth: 0 }).trimEnd(),
    '---',
    '',
    `# ESM ${value(config.task_id)}`,
    '',
    `An Embedding Space Map (ESM) of ${value(config.task_id)} for ${value(config.base_model_name)}: a linear map that approximates how fine-tuning the base model on the task moves its embeddings.`,
    'ESM-LogME ranks intermediate tasks for a target dataset with it (hf-dataset-selector, esmselect).',
    '',
    ...fields.map(([name, v]) => `- **${name}:** ${value(v)}`),
    '',
  ].join('\n');
}
