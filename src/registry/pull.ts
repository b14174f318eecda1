import { pathsInfo } from '@huggingface/hub';
import { UserInputError } from '../errors.js';
import { parseEsmConfig } from '../esm/config.js';
import { CONFIG_FILE, WEIGHTS_FILE } from '../esm/hfselect.js';
import { type HubClient, hubClient } from '../hub/client.js';
import { type HubConfig, hubConfig } from '../hub/config.js';
import { announcedFile, downloadVerified, FileRejection } from '../hub/download.js';
import { HubError, hubFailure } from '../hub/errors.js';
import { COMMIT_SHA, type EsmRepo, esmRepoInfo, findEsmRepos, matchesTask } from '../hub/esm-repos.js';
import type { HubFetchOptions } from '../hub/fetch.js';
import { hasControlCharacters, printable, repoIdProblem } from '../hub/names.js';
import { MAX_CONFIG_BYTES, MAX_WEIGHTS_BYTES } from '../hub/size-limits.js';
import { updateSourceIndexes } from '../retrieval/source-index.js';
import type { Registry } from '../store/database.js';
import { findHubSource, recordHubSource, writeHubSource } from '../store/hub-sources.js';
import { registerEsm } from './esms.js';
import { createPreparer, type Preparer, preparedMap } from './prepare.js';

/**
 * `esmselect esm pull`: ESMs from the Hub into the registry, as hfselect's `fetch_esms` gets them
 * (config.json and model.safetensors of each repo, invalid ones skipped with the reason) but
 * concurrently, checked against what the Hub announced, registered through the registry's import
 * path (identity, legacy and F16 layouts), and with each repo's commit recorded, so a second pull
 * downloads only repos that are new or changed and a killed pull resumes where it stopped.
 */

/** Downloads at once, by default. */
export const DEFAULT_CONCURRENCY = 8;
/** From this many repos on, a pull checks and sketches ESMs in worker threads (starting them costs more for fewer). */
const THREADS_FROM = 32;
/** Room for the safetensors header (its length, the JSON, padding) beyond the tensors. */
const HEADER_SLACK = 64 * 2 ** 10;

/**
 * The largest weights file an ESM of dimension `dim` can need: a D×D weight and a D bias in F32
 * (hfselect saves F32; legacy and F16 files are smaller), plus the header.
 */
export function maxWeightsBytes(dim: number): number {
  return 8 + HEADER_SLACK + (dim * dim + dim) * 4;
}

export type PullStatus = 'imported' | 'skipped' | 'unchanged' | 'rejected' | 'failed';

export interface PullOutcome {
  readonly repo: string;
  /** The commit read (null when it could not be learnt). */
  readonly commit: string | null;
  /**
   * imported: a new ESM registered; skipped: downloaded, but the registry had this ESM (same
   * identity); unchanged: the commit is the one pulled before, nothing downloaded; rejected: the
   * repo's files are not a usable ESM, or not what the Hub announced; failed: the Hub could not be
   * asked (try again later).
   */
  readonly status: PullStatus;
  /** The registry id (imported, skipped, unchanged). */
  readonly id?: number;
  readonly reason?: string;
}

export interface PullSummary {
  /** The base model's current name on the Hub, when pulling by base model. */
  readonly baseModel: string | null;
  /** Repos listed (or named). */
  readonly repos: number;
  readonly imported: number;
  readonly skipped: number;
  readonly unchanged: number;
  readonly rejected: number;
  readonly failed: number;
  readonly outcomes: PullOutcome[];
}

export interface PullProgress {
  /** listing: asking the Hub for the repos; pulling: downloading and registering them. */
  readonly stage: 'listing' | 'pulling';
  readonly done: number;
  readonly total: number;
  readonly outcome?: PullOutcome;
}

export interface PullOptions {
  /** Pull the ESMs published for this base model (its name is resolved to the current one); else every ESM on the Hub. */
  readonly baseModel?: string;
  /** Pull exactly these repos instead of listing (hfselect's `esm_repo_ids`). */
  readonly repos?: readonly string[];
  /** Only repos whose id or task id contains this text (case-insensitive). */
  readonly task?: string;
  /** A branch, tag or commit to read each repo at; default the head of main. */
  readonly revision?: string;
  /** Repos downloaded at once (default 8). */
  readonly concurrency?: number;
  /** Default: from the environment (HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE). */
  readonly hub?: HubConfig;
  /** Told about each retry of a request (429, 5xx). */
  readonly onRetry?: HubFetchOptions['onRetry'];
  readonly onProgress?: (progress: PullProgress) => void;
  /** Stops the pull: requests in flight are aborted; what was registered stays. */
  readonly signal?: AbortSignal;
  /**
   * Worker threads that check, canonicalise and sketch the downloaded ESMs (at most one per core;
   * 0: this thread). Default: `concurrency` when there are at least 32 repos, else 0.
   */
  readonly threads?: number;
}

/** A repo that is not a usable ESM; `permanent` when its commit would be refused again. */
class RepoRejection extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

/** Why a config's strings cannot be shown safely: hfselect's text fields never hold control characters. */
function configTextProblem(config: Record<string, unknown>): string | null {
  for (const [key, value] of Object.entries(config)) {
    const strings = typeof value === 'string' ? [value] : Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
    if (strings.some(hasControlCharacters)) return `config.json: ${printable(key, 60)} contains control characters`;
  }
  return null;
}

/** The tree entry of `path`, as announced; a rejection when the repo lacks it. */
function announced(entries: Awaited<ReturnType<typeof pathsInfo>>, path: string) {
  const entry = entries.find((e) => e.path === path);
  if (!entry) throw new RepoRejection(`${path} is missing`, true);
  const file = announcedFile(entry);
  if (!file) throw new RepoRejection(`${path}: the Hub announced no size and hash to check it against`, true);
  return file;
}

/**
 * A request about one repo whose failure is that repo's (a HubError: it is reported, and the pull
 * goes on): an answer of the Hub, a broken connection, a malformed answer. Rejections of the
 * content, cancellation and HF_HUB_OFFLINE pass through.
 */
async function askHub<T>(hub: HubClient, repo: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof FileRejection || error instanceof UserInputError || (error as Error)?.name === 'AbortError') throw error;
    const failure = hubFailure(error, `repo ${repo}`, hub.config);
    if (failure instanceof HubError) throw failure;
    // The client ends a failed download's stream with the response's message, a string.
    const message = failure instanceof Error ? failure.message : String(failure);
    throw new HubError(`repo ${repo}: ${printable(message.replace(/\. URL: .*$/s, ''))}`, 'HF_ENDPOINT', 0);
  }
}

/** Reads the two files of one repo at one commit and registers the ESM they make. */
async function pullRepo(registry: Registry, hub: HubClient, preparer: Preparer, listed: EsmRepo, revision: string | undefined): Promise<PullOutcome> {
  const invalid = repoIdProblem(listed.id);
  if (invalid) return { repo: printable(listed.id, 120), commit: null, status: 'rejected', reason: invalid };
  let repo = listed;
  try {
    // A named revision, or a repo named rather than listed: ask for its commit and tags.
    if (revision !== undefined || repo.sha === null) repo = await askHub(hub, listed.id, () => esmRepoInfo(hub, listed.id, revision));
  } catch (error) {
    if (!(error instanceof HubError)) throw error;
    // A repo (or revision) that is not there, or not readable with this token, is no ESM to pull.
    return { repo: listed.id, commit: null, status: [401, 403, 404].includes(error.status) ? 'rejected' : 'failed', reason: error.message };
  }
  const commit = repo.sha;
  if (commit === null || !COMMIT_SHA.test(commit) || repoIdProblem(repo.id)) {
    return { repo: printable(repo.id, 120), commit: null, status: 'rejected', reason: 'the Hub gave no valid commit sha or repo id for it' };
  }
  const known = findHubSource(registry, repo.id);
  if (known?.commit_sha === commit) {
    return known.source_task_id !== null
      ? { repo: repo.id, commit, status: 'unchanged', id: known.source_task_id }
      : { repo: repo.id, commit, status: 'rejected', reason: `${known.rejected} (unchanged since the last pull)` };
  }
  const recordRejection = (rejected: string) => recordHubSource(registry, { repoId: repo.id, commit, tags: repo.tags, rejected });
  try {
    const entries = await askHub(hub, repo.id, () => pathsInfo({ ...hub.params, repo: repo.id, revision: commit, paths: [CONFIG_FILE, WEIGHTS_FILE] }));
    const configFile = announced(entries, CONFIG_FILE);
    const weightsFile = announced(entries, WEIGHTS_FILE);
    const configText = Buffer.from(await askHub(hub, repo.id, () => downloadVerified(hub, repo.id, commit, configFile, MAX_CONFIG_BYTES))).toString('utf8');
    let raw: unknown;
    try {
      raw = JSON.parse(configText);
    } catch {
      throw new RepoRejection('config.json is not valid JSON', true);
    }
    const parsed = parseEsmConfig(raw);
    if ('problem' in parsed) throw new RepoRejection(parsed.problem, true);
    const textProblem = configTextProblem(parsed.config);
    if (textProblem) throw new RepoRejection(textProblem, true);
    // The config's dimension bounds the weights before a byte of them is read.
    const dim = parsed.config.esm_embedding_dim;
    const bound = maxWeightsBytes(dim);
    if (bound > MAX_WEIGHTS_BYTES)
      throw new RepoRejection(`config.json: esm_embedding_dim ${dim} needs up to ${bound} bytes of weights, more than the ${MAX_WEIGHTS_BYTES} accepted`, true);
    if (weightsFile.size > bound) {
      throw new RepoRejection(`${WEIGHTS_FILE} is ${weightsFile.size} bytes, more than an ESM of dimension ${dim} needs (at most ${bound})`, true);
    }
    const weights = await askHub(hub, repo.id, () => downloadVerified(hub, repo.id, commit, weightsFile, bound));
    const prepared = await preparer.prepare({ source: repo.id, configText, weights });
    if ('problem' in prepared) throw new RepoRejection(printable(prepared.problem), true);
    const registered = await registerEsm(
      registry,
      preparedMap(prepared),
      { origin: `hf://${repo.id}@${commit}` },
      // The repo's row commits with the ESM's: a pull killed in between left both or neither.
      { prepared, withRecord: ({ id }) => writeHubSource(registry, { repoId: repo.id, commit, tags: repo.tags, sourceTaskId: id }) },
    );
    return {
      repo: repo.id,
      commit,
      status: registered.status,
      id: registered.record.id,
      ...(registered.status === 'skipped' && { reason: `already registered as #${registered.record.id}` }),
    };
  } catch (error) {
    let rejection: RepoRejection | undefined;
    if (error instanceof RepoRejection) rejection = error;
    else if (error instanceof FileRejection) rejection = new RepoRejection(error.message, error.permanent);
    if (rejection) {
      // Only what the same commit would show again is remembered; a transfer gone wrong is retried next time.
      if (rejection.permanent) recordRejection(rejection.message);
      return { repo: repo.id, commit, status: 'rejected', reason: rejection.message };
    }
    if (error instanceof HubError) return { repo: repo.id, commit, status: 'failed', reason: error.message };
    throw error;
  }
}

/**
 * Runs `work` on every item, `limit` at a time. The first unexpected error stops the workers from
 * taking more items and is thrown once those running have ended.
 */
async function eachLimit<T>(items: readonly T[], limit: number, signal: AbortSignal | undefined, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failure && !signal?.aborted) {
      const item = items[next++];
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
  signal?.throwIfAborted();
}

/**
 * Pulls ESMs from the Hub into the registry: lists them (or takes the named repos), then reads each
 * repo at one commit, `concurrency` repos at a time. A bad repo is rejected with the reason and
 * never stops the rest.
 */
export async function pullEsms(registry: Registry, options: PullOptions = {}): Promise<PullSummary> {
  const named = options.repos ?? [];
  if (named.length > 0 && (options.baseModel !== undefined || options.task !== undefined)) {
    throw new UserInputError('repo: give the repos to pull, or --base-model/--task to select them from the Hub, not both', 'repo');
  }
  // A listed repo with a bad id is a stranger's and is rejected among the rest; one the caller named is a typo to fix first.
  for (const id of named) {
    const invalid = repoIdProblem(id);
    if (invalid) throw new UserInputError(`repo: "${printable(id, 120)}" is ${invalid}`, 'repo');
  }
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new UserInputError('concurrency: expected a positive integer', 'concurrency');
  const hub = hubClient('esm pull', options.hub ?? hubConfig(), { signal: options.signal, onRetry: options.onRetry });
  options.onProgress?.({ stage: 'listing', done: 0, total: 0 });
  let baseModel: string | null = null;
  let repos: EsmRepo[];
  if (named.length > 0) {
    repos = [...new Set(named)].map((id) => ({ id, sha: null, tags: [], downloads: 0, likes: 0, updatedAt: null }));
  } else {
    const found = await findEsmRepos(hub, { baseModel: options.baseModel });
    baseModel = found.baseModel;
    repos = options.task === undefined ? found.repos : found.repos.filter((repo) => matchesTask(repo, options.task!));
  }
  const outcomes: PullOutcome[] = [];
  options.onProgress?.({ stage: 'pulling', done: 0, total: repos.length });
  const preparer = createPreparer(options.threads ?? (repos.length >= THREADS_FROM ? concurrency : 0));
  try {
    await eachLimit(repos, concurrency, options.signal, async (repo) => {
      const outcome = await pullRepo(registry, hub, preparer, repo, options.revision);
      outcomes.push(outcome);
      options.onProgress?.({ stage: 'pulling', done: outcomes.length, total: repos.length, outcome });
    });
  } finally {
    await preparer.close();
    // ESMs whose source texts were seen before go back into the HNSW indexes, as after an import.
    if (outcomes.some((o) => o.status === 'imported')) updateSourceIndexes(registry);
  }
  const count = (status: PullStatus) => outcomes.filter((o) => o.status === status).length;
  return {
    baseModel,
    repos: repos.length,
    imported: count('imported'),
    skipped: count('skipped'),
    unchanged: count('unchanged'),
    rejected: count('rejected'),
    failed: count('failed'),
    outcomes,
  };
}
