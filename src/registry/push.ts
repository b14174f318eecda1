import { createRepo, HubApiError, uploadFiles } from '@huggingface/hub';
import { UserInputError } from '../errors.js';
import { CONFIG_FILE, EsmFormatError, esmConfigJson, esmWeightsFile, WEIGHTS_FILE } from '../esm/hfselect.js';
import { hubClient } from '../hub/client.js';
import { type HubConfig, hubConfig } from '../hub/config.js';
import { HubError, hubFailure } from '../hub/errors.js';
import { repoIdProblem } from '../hub/names.js';
import type { Registry } from '../store/database.js';
import { getEsm } from '../store/esms.js';
import { esmModelCard } from './card.js';
import { loadRegisteredEsm } from './esms.js';

export interface PushOptions {
  /** `owner/name`: the token's user or one of its organisations. */
  readonly repo: string;
  readonly private?: boolean;
  /** Default: from the environment (HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE). */
  readonly hub?: HubConfig;
}

export interface PushResult {
  readonly repo: string;
  readonly url: string;
  /** The commit that holds the ESM. */
  readonly commit: string;
  /** False when the repo was there already (it is updated). */
  readonly created: boolean;
}

/**
 * Publishes a registered ESM as hfselect's `ESM.publish` does: creates the repo (one that exists
 * is updated), then commits config.json, model.safetensors (the current layout, F32) and a model
 * card tagged so hfselect and `esm pull` find it.
 */
export async function pushEsm(registry: Registry, id: number, options: PushOptions): Promise<PushResult> {
  const config = options.hub ?? hubConfig();
  const hub = hubClient('esm push', config);
  const invalid = repoIdProblem(options.repo);
  if (invalid || !options.repo.includes('/')) throw new UserInputError(`repo: ${options.repo} is ${invalid ?? 'not a full repo id (owner/name)'}`, 'repo');
  if (!config.token) throw new HubError('esm push: publishing needs a token with write access in HF_TOKEN', 'HF_TOKEN', 401);
  const record = getEsm(registry, id);
  let esm: Awaited<ReturnType<typeof loadRegisteredEsm>>;
  try {
    esm = await loadRegisteredEsm(registry, record);
  } catch (error) {
    if (error instanceof EsmFormatError) throw new UserInputError(`esm: ${error.message}`, 'esm');
    throw error;
  }
  const what = `esm push: ${options.repo}`;
  let created = true;
  try {
    await createRepo({ ...hub.params, accessToken: config.token, repo: options.repo, private: options.private ?? false, license: 'apache-2.0' });
  } catch (error) {
    // 409: the repo exists. Whether the token may write to it, the commit finds out.
    if (!(error instanceof HubApiError && error.statusCode === 409)) throw hubFailure(error, what, config);
    created = false;
  }
  let commit: Awaited<ReturnType<typeof uploadFiles>>;
  try {
    commit = await uploadFiles({
      ...hub.params,
      accessToken: config.token,
      repo: options.repo,
      commitTitle: `Upload ESM of ${esm.taskId}`,
      files: [
        { path: CONFIG_FILE, content: new Blob([esmConfigJson(esm)]) },
        { path: WEIGHTS_FILE, content: new Blob([esmWeightsFile(esm)]) },
        { path: 'README.md', content: new Blob([esmModelCard(esm.config)]) },
      ],
    });
  } catch (error) {
    throw hubFailure(error, what, config);
  }
  if (!commit) throw new HubError(`${what}: the Hub made no commit`, 'repo', 0);
  return { repo: options.repo, url: `${config.endpoint}/${options.repo}`, commit: commit.commit.oid, created };
}
