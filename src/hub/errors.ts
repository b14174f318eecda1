import { HubApiError } from '@huggingface/hub';
import { UserInputError } from '../errors.js';
import { type HubConfig, HubOfflineError } from './config.js';
import { printable } from './names.js';

/**
 * The Hub refused a request or could not be reached: something the user can act on (a token, a
 * name, the network), told in one line. `status` is the Hub's HTTP status (0: not reached).
 */
export class HubError extends UserInputError {
  constructor(
    message: string,
    field: string,
    readonly status: number,
  ) {
    super(message, field);
  }
}

/** The Hub's own message of an error answer, without the URL trailer @huggingface/hub appends, made printable. */
function hubMessage(error: HubApiError): string {
  return printable(error.message.replace(/\. URL: .*$/s, ''), 160);
}

/**
 * `error` as one line saying what `what` (e.g. `esm pull: repo org/name`) ran into: a HubError for an
 * answer of the Hub or a network failure; anything else (our own bugs, HF_HUB_OFFLINE) is returned as is.
 * The token is never part of the message; `notFoundField` names the input a 404 is about.
 */
export function hubFailure(error: unknown, what: string, config: HubConfig, notFoundField = 'repo'): unknown {
  if (error instanceof HubOfflineError || error instanceof HubError) return error;
  if (error instanceof HubApiError) {
    const status = error.statusCode;
    const said = hubMessage(error);
    if (status === 401) {
      return config.token
        ? new HubError(`${what}: the Hub refused the request (401: ${said}); check that HF_TOKEN is valid and may read it`, 'HF_TOKEN', status)
        : new HubError(`${what}: not found on the Hub, or private (401: ${said}); set HF_TOKEN to reach private repos`, 'HF_TOKEN', status);
    }
    if (status === 403) return new HubError(`${what}: the token in HF_TOKEN has no right to this (403: ${said})`, 'HF_TOKEN', status);
    if (status === 404) return new HubError(`${what}: not found on the Hub (404: ${said})`, notFoundField, status);
    return new HubError(`${what}: the Hub answered ${status} (${said})`, 'HF_ENDPOINT', status);
  }
  if (error instanceof TypeError && /fetch failed/i.test(error.message)) {
    const cause = (error as TypeError & { cause?: { code?: string; message?: string } }).cause;
    return new HubError(
      `${what}: cannot reach the Hub at ${config.endpoint} (${printable(cause?.code ?? cause?.message ?? error.message, 80)})`,
      'HF_ENDPOINT',
      0,
    );
  }
  return error;
}
