import { type HubConfig, hubConfig, requireOnline } from './config.js';
import { createHubFetch, type HubFetchOptions } from './fetch.js';

/**
 * What every @huggingface/hub call of esmselect is given: the endpoint, the token (when set) and the
 * retrying, token-scoped fetch. `hub.params` spreads into a call: `listModels({ ...hub.params, … })`.
 */
export interface HubClient {
  readonly config: HubConfig;
  readonly params: { readonly hubUrl: string; readonly accessToken?: string; readonly fetch: typeof fetch };
}

/**
 * A client for `what` (named in the one-line refusal when HF_HUB_OFFLINE is set); nothing is sent
 * before a call is made with it.
 */
export function hubClient(what: string, config: HubConfig = hubConfig(), options: HubFetchOptions = {}): HubClient {
  requireOnline(config, what);
  const params = { hubUrl: config.endpoint, fetch: createHubFetch(config, options), ...(config.token ? { accessToken: config.token } : {}) };
  return { config, params };
}
