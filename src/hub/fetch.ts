import { type HubConfig, HubOfflineError } from './config.js';

/**
 * The `fetch` every @huggingface/hub call is given (its `fetch` parameter): retries what the Hub asks
 * to be retried, and keeps the token on the Hub's origin.
 *
 * - 429 and 5xx are retried with exponential backoff and full jitter (base 0.5 s, doubling, capped at
 *   30 s per wait), honouring `Retry-After` (seconds or an HTTP date) when the server sends it, as
 *   huggingface_hub's `http_backoff` does; network errors too. A request that changes something
 *   (POST, PUT) is retried only on 429, which says it was not processed.
 * - `Authorization` never leaves the Hub's origin: a request to any other origin (a CDN a download
 *   was redirected to) goes without it, whoever added it.
 */
export interface HubFetchOptions {
  /** Attempts in all, the first included; default 5. */
  readonly attempts?: number;
  /** The first backoff, in ms; default 500. */
  readonly baseDelayMs?: number;
  /** The longest single wait, in ms; default 30 000 (a longer Retry-After is capped there too). */
  readonly maxDelayMs?: number;
  /** Told about each retry (never given the token or a URL's query). */
  readonly onRetry?: (retry: { url: string; status: number | null; attempt: number; delayMs: number }) => void;
  /** The fetch underneath; default the global one. */
  readonly fetch?: typeof fetch;
  /** For tests: a deterministic replacement for Math.random in the jitter. */
  readonly random?: () => number;
  /**
   * Aborts every request made through this fetch, bodies being read and backoff waits included
   * (@huggingface/hub's calls take no signal of their own): how a pull is cancelled.
   */
  readonly signal?: AbortSignal;
}

const RETRIED_STATUS = new Set([429, 500, 502, 503, 504]);
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);

/** A Retry-After header in ms: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export function createHubFetch(config: HubConfig, options: HubFetchOptions = {}): typeof fetch {
  const inner = options.fetch ?? fetch;
  const attempts = options.attempts ?? 5;
  const base = options.baseDelayMs ?? 500;
  const cap = options.maxDelayMs ?? 30_000;
  const random = options.random ?? Math.random;
  const hubOrigin = new URL(config.endpoint).origin;

  const hubFetch = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    if (config.offline) throw new HubOfflineError('this request');
    const url = new URL(input instanceof Request ? input.url : input.toString());
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    if (url.origin !== hubOrigin) headers.delete('authorization');
    const method = (init.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const where = `${url.origin}${url.pathname}`;
    const given = init.signal ?? (input instanceof Request ? input.signal : undefined);
    const signal = options.signal && given ? AbortSignal.any([options.signal, given]) : (options.signal ?? given ?? undefined);
    signal?.throwIfAborted();
    for (let attempt = 1; ; attempt++) {
      let response: Response | null = null;
      let failure: unknown;
      try {
        response = await inner(url, { ...init, method, headers, signal });
      } catch (error) {
        if ((error as Error).name === 'AbortError' || signal?.aborted) throw error;
        failure = error;
      }
      const retriable = response ? RETRIED_STATUS.has(response.status) && (IDEMPOTENT.has(method) || response.status === 429) : IDEMPOTENT.has(method);
      if (!retriable || attempt >= attempts) {
        if (response) return response;
        throw failure;
      }
      const backoff = Math.min(cap, base * 2 ** (attempt - 1)) * random();
      const delayMs = Math.min(cap, retryAfterMs(response?.headers.get('retry-after') ?? null) ?? backoff);
      await response?.body?.cancel();
      options.onRetry?.({ url: where, status: response?.status ?? null, attempt, delayMs });
      await sleep(delayMs, signal);
    }
  };
  return hubFetch as typeof fetch;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
