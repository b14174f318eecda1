import { HubOfflineError } from '../hub/config.js';
import { HubError } from '../hub/errors.js';
import { HttpProblem } from './problem.js';

/**
 * A Hub failure as the service answers it: HF_HUB_OFFLINE is 503 (the server is configured not to
 * reach the Hub); a name the Hub does not know is the request's fault (422 naming the field); the
 * Hub refusing the server's token, or not answering, is 502. Anything else is returned as is.
 */
export function hubProblem(error: unknown): unknown {
  if (error instanceof HubOfflineError) return new HttpProblem('unavailable', error.message);
  if (error instanceof HubError) {
    const field = { base_model: 'base_model', repo: 'repos' }[error.field ?? ''];
    if (error.status === 404 && field) return new HttpProblem('invalid-input', `${field}: ${error.message}`, field);
    return new HttpProblem('bad-gateway', error.message);
  }
  return error;
}
