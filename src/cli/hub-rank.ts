import { UserInputError } from '../errors.js';
import { hubConfig, requireOnline } from '../hub/config.js';
import { pullHubPool } from '../registry/task-ranking.js';
import type { Registry } from '../store/database.js';
import type { EsmFilter } from '../store/esms.js';
import { type EsmFilterFlags, esmFilterFrom } from './esm-filter.js';
import { pullSummaryLines, reportRetry } from './hub-command.js';
import { createProgress } from './progress.js';

/** `--esms hub`: the ESMs published on the Hub for the target's base model, pulled into the registry first. */
export const HUB = 'hub';

export function hubSelected(esms: readonly string[]): boolean {
  return esms.length === 1 && esms[0] === HUB;
}

/** The base model whose ESMs `--esms hub` ranks with: `--base-model`, else the embedding model `--model`. */
function hubBaseModel(flags: EsmFilterFlags & { model?: string }): string {
  const name = flags.baseModel ?? flags.model;
  if (name === undefined)
    throw new UserInputError(`base model: --esms ${HUB} ranks the ESMs of one base model; name it with --base-model (or embed with --model)`, 'base_model');
  return name;
}

/** Refuses at once (before embedding anything) when the Hub cannot be used. */
export function checkHubUsable(flags: EsmFilterFlags & { model?: string }): void {
  hubBaseModel(flags);
  requireOnline(hubConfig(), `rank --esms ${HUB}`);
}

/**
 * Pulls what the registry lacks of the Hub's ESMs for the base model (a progress bar, then one line
 * of counts and a line per rejected repo on stderr) and returns the filter that selects that pool:
 * `--base-model` names the Hub's base model here; the other filters narrow the pool.
 */
export async function hubPoolFilter(registry: Registry, flags: EsmFilterFlags & { model?: string }): Promise<EsmFilter> {
  const { base_model_name: _hub, ...filters } = esmFilterFrom(flags);
  const progress = createProgress('Pulling ESMs', 'repos');
  const { filter, pull } = await pullHubPool(registry, {
    modelName: hubBaseModel(flags),
    filters,
    onRetry: reportRetry,
    onProgress: ({ stage, done, total }) => stage === 'pulling' && progress.update(done, total),
  }).finally(() => progress.stop());
  for (const line of pullSummaryLines(pull)) process.stderr.write(`esmselect: ${line}\n`);
  return filter;
}
