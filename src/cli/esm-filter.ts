import type { Command } from 'commander';
import { UserInputError } from '../errors.js';
import type { EsmFilter } from '../store/esms.js';
import { positiveInteger } from './errors.js';

export interface EsmFilterFlags {
  baseModel?: string;
  language?: string;
  task?: string;
  architecture?: string;
  dim?: number;
}

/** The registry filters `esm list` and `rank --esms registry` share. */
export function addEsmFilterOptions(command: Command): Command {
  return command
    .option('--base-model <name>', 'only ESMs of this base model (e.g. google-bert/bert-base-uncased)')
    .option('--language <code>', 'only ESMs of source tasks in this language')
    .option('--task <text>', 'only source tasks whose id contains this text (case-insensitive)')
    .option('--architecture <name>', 'only ESMs of this architecture (linear)')
    .option('--dim <d>', 'only ESMs of this embedding dimension', positiveInteger);
}

export function esmFilterFrom(flags: EsmFilterFlags): EsmFilter {
  const { baseModel: base_model_name, language, task: task_id, architecture: esm_architecture, dim: esm_embedding_dim } = flags;
  return Object.fromEntries(Object.entries({ base_model_name, language, task_id, esm_architecture, esm_embedding_dim }).filter(([, v]) => v !== undefined));
}

/** `--esms registry` selects the registered ESMs, narrowed by the filter options, instead of folders. */
export const REGISTRY = 'registry';

/** Whether `--esms` names the registry; the filters only make sense with it. */
export function registrySelected(esms: readonly string[], flags: EsmFilterFlags): boolean {
  if (esms.length === 1 && esms[0] === REGISTRY) return true;
  if (Object.keys(esmFilterFrom(flags)).length > 0) {
    throw new UserInputError(
      `esms: the filters (--base-model, --language, --task, --architecture, --dim) select from the registry; use --esms ${REGISTRY}`,
      'esms',
    );
  }
  return false;
}
