import { listModels, modelInfo } from '@huggingface/hub';
import type { HubClient } from './client.js';
import { hubFailure } from './errors.js';

/**
 * The ESMs published on the Hub, found as hfselect finds them (`utils.py`): model repos tagged
 * `embedding_space_map`, and for one base model also `base_model:<its current name>`.
 */

/** The tag `ESM.publish` gives every ESM repo. */
export const ESM_TAG = 'embedding_space_map';

/** One ESM repo as the Hub lists it, without its files. */
export interface EsmRepo {
  readonly id: string;
  /** The commit at the head of main when listed. */
  readonly sha: string | null;
  readonly tags: readonly string[];
  readonly downloads: number;
  readonly likes: number;
  readonly updatedAt: string | null;
}

/** A full commit sha: what a pull pins its downloads to. */
export const COMMIT_SHA = /^[0-9a-f]{40}$/;

/** What a listing says of a repo, with anything malformed (strangers' data, a broken proxy) left out. */
function esmRepo(entry: { name: unknown; sha?: unknown; tags?: unknown; downloads?: unknown; likes?: unknown; updatedAt?: unknown }): EsmRepo {
  const updated = entry.updatedAt instanceof Date && !Number.isNaN(entry.updatedAt.getTime()) ? entry.updatedAt.toISOString() : null;
  return {
    id: String(entry.name),
    sha: typeof entry.sha === 'string' && COMMIT_SHA.test(entry.sha) ? entry.sha : null,
    tags: Array.isArray(entry.tags) ? entry.tags.filter((tag): tag is string => typeof tag === 'string') : [],
    downloads: Number.isFinite(entry.downloads) ? Number(entry.downloads) : 0,
    likes: Number.isFinite(entry.likes) ? Number(entry.likes) : 0,
    updatedAt: updated,
  };
}

/**
 * A model's current name on the Hub, following renames (`bert-base-uncased` →
 * `google-bert/bert-base-uncased`), as `find_esm_model_infos` does with `model_info(name).id`: the
 * ESMs' `base_model:` tags carry the current name.
 */
export async function resolveModelName(hub: HubClient, name: string): Promise<string> {
  try {
    return (await modelInfo({ ...hub.params, name })).name;
  } catch (error) {
    throw hubFailure(error, `base model ${name}`, hub.config, 'base_model');
  }
}

/** One repo's id, head commit and tags at a revision (default the head of main), under its current name. */
export async function esmRepoInfo(hub: HubClient, id: string, revision?: string): Promise<EsmRepo> {
  const info = await modelInfo({ ...hub.params, name: id, revision, additionalFields: ['sha', 'tags'] });
  return esmRepo(info);
}

export interface EsmSearch {
  /** A base model name: resolved to its current name, then its ESMs only. */
  readonly baseModel?: string;
  /** More tags every repo must have (hfselect's `filters`). */
  readonly tags?: readonly string[];
}

/**
 * Every ESM repo matching the search, all pages of the listing (the client follows the Hub's
 * `Link: rel="next"` cursors), with the base model's current name when one was given.
 */
export async function findEsmRepos(hub: HubClient, search: EsmSearch = {}): Promise<{ baseModel: string | null; repos: EsmRepo[] }> {
  const baseModel = search.baseModel === undefined ? null : await resolveModelName(hub, search.baseModel);
  const tags = [ESM_TAG, ...(search.tags ?? []), ...(baseModel ? [`base_model:${baseModel}`] : [])];
  const repos: EsmRepo[] = [];
  try {
    for await (const entry of listModels({ ...hub.params, search: { tags }, additionalFields: ['sha', 'tags'] })) repos.push(esmRepo(entry));
  } catch (error) {
    throw hubFailure(error, `listing the ESMs${baseModel ? ` of ${baseModel}` : ''}`, hub.config);
  }
  return { baseModel, repos };
}

/** The base model an ESM repo's tags name, as `get_esm_coverage` reads it: the first `base_model:finetune:` tag. */
export function baseModelOf(repo: Pick<EsmRepo, 'tags'>): string | null {
  const tag = repo.tags.find((t) => t.startsWith('base_model:finetune:'));
  return tag ? tag.slice('base_model:finetune:'.length) : null;
}

/** The source task an ESM repo's tags name: `ESM.publish` puts the task id in the card's `datasets`. */
export function taskIdOf(repo: Pick<EsmRepo, 'tags'>): string | null {
  const tag = repo.tags.find((t) => t.startsWith('dataset:'));
  return tag ? tag.slice('dataset:'.length) : null;
}

/** Whether a repo's id or its task id contains `text`, case-insensitively (the registry's `--task` matches task ids likewise). */
export function matchesTask(repo: Pick<EsmRepo, 'id' | 'tags'>, text: string): boolean {
  const wanted = text.toLowerCase();
  return repo.id.toLowerCase().includes(wanted) || (taskIdOf(repo)?.toLowerCase().includes(wanted) ?? false);
}

/**
 * How many ESMs the Hub has per base model, most first (hfselect's `get_esm_coverage`); ESMs whose
 * tags name no base model are counted under null.
 */
export async function esmCoverage(hub: HubClient, tags: readonly string[] = []): Promise<{ baseModel: string | null; esms: number }[]> {
  const { repos } = await findEsmRepos(hub, { tags });
  const counts = new Map<string | null, number>();
  for (const repo of repos) counts.set(baseModelOf(repo), (counts.get(baseModelOf(repo)) ?? 0) + 1);
  return [...counts]
    .map(([baseModel, esms]) => ({ baseModel, esms }))
    .sort((a, b) => b.esms - a.esms || String(a.baseModel).localeCompare(String(b.baseModel)));
}
