import { pathsInfo } from '@huggingface/hub';
import { type HubClient, hubClient } from './client.js';
import { type HubConfig, hubConfig } from './config.js';
import { announcedFile, downloadVerified } from './download.js';
import { baseModelOf, type EsmRepo, esmCoverage, findEsmRepos, matchesTask, taskIdOf } from './esm-repos.js';
import { printable, repoIdProblem } from './names.js';
import { MAX_CONFIG_BYTES } from './size-limits.js';

/** The file of an ESM repo that holds its ESMConfig (hfselect's layout, as esm/hfselect.ts reads it). */
const CONFIG_FILE = 'config.json';

/** One ESM on the Hub as `esm search` shows it; every text made printable (it comes from strangers). */
export interface HubEsm {
  readonly repo_id: string;
  readonly sha: string | null;
  /** From the card's `datasets` (`dataset:` tag). */
  readonly task_id: string | null;
  /** From the `base_model:finetune:` tag, as get_esm_coverage reads it. */
  readonly base_model: string | null;
  /** From the config (read only when searching by language). */
  readonly language?: string | null;
  readonly downloads: number;
  readonly likes: number;
  readonly updated_at: string | null;
}

export interface SearchOptions {
  readonly baseModel?: string;
  /** A case-insensitive substring of the repo id or task id. */
  readonly task?: string;
  /** The source task's language: a `language:` tag, else the config's `language` (case-insensitive). */
  readonly language?: string;
  readonly hub?: HubConfig;
  readonly concurrency?: number;
}

/** The language an ESM's config.json gives, read at the listed commit (null when it cannot be read). */
async function configLanguage(hub: HubClient, repo: EsmRepo): Promise<string | null> {
  if (!repo.sha || repoIdProblem(repo.id)) return null;
  try {
    const [entry] = await pathsInfo({ ...hub.params, repo: repo.id, revision: repo.sha, paths: [CONFIG_FILE] });
    const file = entry && announcedFile(entry);
    if (!file) return null;
    const config = JSON.parse(Buffer.from(await downloadVerified(hub, repo.id, repo.sha, file, MAX_CONFIG_BYTES)).toString('utf8'));
    return typeof config?.language === 'string' ? config.language : null;
  } catch {
    return null;
  }
}

/**
 * The Hub's ESMs matching the search, without downloading them (by language, only their config.json
 * is read): hfselect's `find_esm_model_infos` with esmselect's registry filters.
 */
export async function searchEsms(options: SearchOptions = {}): Promise<HubEsm[]> {
  const hub = hubClient('esm search', options.hub ?? hubConfig());
  const { repos } = await findEsmRepos(hub, { baseModel: options.baseModel });
  const matching = options.task === undefined ? repos : repos.filter((repo) => matchesTask(repo, options.task!));
  const languages = new Map<string, string | null>();
  if (options.language !== undefined) {
    const wanted = options.language.toLowerCase();
    const unknown = matching.filter((repo) => !repo.tags.some((tag) => tag.toLowerCase() === `language:${wanted}`));
    for (const repo of matching) if (!unknown.includes(repo)) languages.set(repo.id, options.language);
    let next = 0;
    const worker = async () => {
      while (next < unknown.length) {
        const repo = unknown[next++];
        languages.set(repo.id, await configLanguage(hub, repo));
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 8, unknown.length) }, worker));
  }
  const shown = (text: string | null) => (text === null ? null : printable(text, 120));
  return matching
    .filter((repo) => options.language === undefined || languages.get(repo.id)?.toLowerCase() === options.language.toLowerCase())
    .map((repo) => ({
      repo_id: printable(repo.id, 120),
      sha: repo.sha,
      task_id: shown(taskIdOf(repo)),
      base_model: shown(baseModelOf(repo)),
      ...(options.language !== undefined && { language: shown(languages.get(repo.id) ?? null) }),
      downloads: repo.downloads,
      likes: repo.likes,
      updated_at: repo.updatedAt,
    }));
}

/** hfselect's `find_esm_repo_ids`: the ids of the ESM repos for a model (every ESM without one), with more tags to filter by. */
export async function findEsmRepoIds(options: { modelName?: string; filters?: readonly string[]; hub?: HubConfig } = {}): Promise<string[]> {
  const hub = hubClient('finding ESMs', options.hub ?? hubConfig());
  return (await findEsmRepos(hub, { baseModel: options.modelName, tags: options.filters })).repos.map((repo) => repo.id);
}

/** hfselect's `get_esm_coverage`: how many ESMs the Hub has per base model, most first. */
export async function getEsmCoverage(options: { filters?: readonly string[]; hub?: HubConfig } = {}): Promise<{ baseModel: string | null; esms: number }[]> {
  const hub = hubClient('esm coverage', options.hub ?? hubConfig());
  return (await esmCoverage(hub, options.filters)).map(({ baseModel, esms }) => ({ baseModel: baseModel === null ? null : printable(baseModel, 120), esms }));
}
