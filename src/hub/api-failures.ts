import { HubApiError } from '@huggingface/hub';
import { UserInputError } from '../errors.js';
import { HubOfflineError } from './config.js';
import { HubUnavailableError } from './hub-errors.js';

/** What was asked of the Hub, for the one-line message: e.g. "dataset hf://datasets/org/name". */
export interface HubRequestContext {
  readonly what: string;
  /** The input that named it (`dataset`, `model`, …). */
  readonly field: string;
  /** What a 404 means here, e.g. "no such dataset on the Hub". */
  readonly notFound: string;
}

/**
 * One line for a failed @huggingface/hub call: unknown repo (the Hub answers 401 for a repo it hides
 * from anonymous callers, 404 otherwise), no access (gated or private), the Hub failing or out of
 * reach. The client's own message (with URLs and request ids) is not shown. Anything that is not a
 * Hub failure is rethrown as it is.
 */
export function hubFailure(error: unknown, context: HubRequestContext): Error {
  if (error instanceof HubOfflineError || error instanceof UserInputError) return error;
  const { what, field } = context;
  if (error instanceof HubApiError) {
    switch (error.statusCode) {
      case 401:
      case 404:
        return new UserInputError(`${field}: ${what}: ${context.notFound} (a private or gated repo needs HF_TOKEN)`, field);
      case 403:
        return new UserInputError(`${field}: ${what}: the Hub refuses access (gated or private: request access on the Hub and set HF_TOKEN)`, field);
      default:
        return new HubUnavailableError(
          `${field}: ${what}: the Hub answered ${error.statusCode}${error.statusCode >= 500 || error.statusCode === 429 ? ' after retries; try again later' : ''}`,
          field,
        );
    }
  }
  if (error instanceof TypeError && /fetch failed/i.test(error.message)) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return new HubUnavailableError(
      `${field}: ${what}: the Hub cannot be reached (${cause?.code ?? cause?.message ?? 'network error'}; HF_ENDPOINT sets where it is)`,
      field,
    );
  }
  return error instanceof Error ? error : new Error(String(error));
}
