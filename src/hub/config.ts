import { UserInputError } from '../errors.js';

/**
 * How esmselect reaches the Hugging Face Hub, configured as the Hub's own clients are
 * (`huggingface_hub`'s constants): HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE.
 */
export interface HubConfig {
  /** The Hub's origin, without a trailing slash (HF_ENDPOINT, default https://huggingface.co). */
  readonly endpoint: string;
  /** An access token (HF_TOKEN): sent to `endpoint` only, never logged, never stored. */
  readonly token?: string;
  /** HF_HUB_OFFLINE=1: nothing may touch the network. */
  readonly offline: boolean;
}

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

/** huggingface_hub reads booleans this way (`_is_true`). */
function isTrue(value: string | undefined): boolean {
  return ['1', 'ON', 'YES', 'TRUE'].includes((value ?? '').toUpperCase());
}

/** The configuration from the environment; an HF_ENDPOINT that is not an http(s) URL is refused. */
export function hubConfig(env: NodeJS.ProcessEnv = process.env): HubConfig {
  const raw = env.HF_ENDPOINT?.trim() || DEFAULT_HUB_ENDPOINT;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UserInputError(`HF_ENDPOINT: not a URL`, 'HF_ENDPOINT');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UserInputError('HF_ENDPOINT: expected an http or https URL', 'HF_ENDPOINT');
  const token = env.HF_TOKEN?.trim() || undefined;
  return { endpoint: raw.replace(/\/+$/, ''), token, offline: isTrue(env.HF_HUB_OFFLINE) };
}

/** Thrown before any request when HF_HUB_OFFLINE is set: `what` says which step needed the Hub. */
export class HubOfflineError extends UserInputError {
  constructor(what: string) {
    super(`${what} needs the Hugging Face Hub, but HF_HUB_OFFLINE is set (unset it to allow network access)`, 'HF_HUB_OFFLINE');
  }
}

/** Refuses at once, with one line, when the configuration is offline. */
export function requireOnline(config: HubConfig, what: string): void {
  if (config.offline) throw new HubOfflineError(what);
}
