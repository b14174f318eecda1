import { readdirSync } from 'node:fs';
import type { MiddlewareHandler } from 'hono';

/** The server's own directories, shown by name. */
export interface ServerDirs {
  readonly dataDir: string;
  readonly modelsDir: string;
}

/** Characters a path segment is taken to hold: not blanks, quotes, brackets or the separators of a message (`file.js:12:3`, `a, b`). */
const SEGMENT = String.raw`[^\s/\\'"\x60<>|:;,()[\]{}]+`;

/** The first segments of the service's own URLs, which are never taken for paths. */
const URL_ROOTS = new Set(['v1', 'docs', 'openapi.yaml', 'healthz', 'readyz', 'metrics']);

/**
 * This machine's top-level directories (/usr, /home, /tmp, …): an absolute path is one that starts
 * with one of them, which the service's own URLs (/v1/…, /docs, …) do not.
 */
function topLevelDirs(): string[] {
  try {
    return readdirSync('/', { withFileTypes: true })
      .filter((entry) => (entry.isDirectory() || entry.isSymbolicLink()) && !URL_ROOTS.has(entry.name))
      .map((entry) => entry.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  } catch {
    return [];
  }
}

/**
 * Any other path on this machine: POSIX (after a character that cannot precede one, so a URL's
 * path is not taken) or a Windows drive path.
 */
const OTHER_PATHS = (() => {
  const roots = topLevelDirs();
  const posix = roots.length ? String.raw`(?<![\w.~/\\>-])/(?:${roots.join('|')})(?:/${SEGMENT})*/?` : undefined;
  const windows = String.raw`\b[A-Za-z]:(?:\\{1,2}${SEGMENT})+`;
  return new RegExp([posix, windows].filter(Boolean).join('|'), 'g');
})();

/** The last segment of a path: what a message needs to tell which file it was. */
function lastSegment(path: string): string {
  const parts = path.split(/[/\\]+/).filter(Boolean);
  return parts.length > 1 ? `/${parts.at(-1)}` : '';
}

/**
 * `text` without server paths: the data and models directories become `<data dir>` and
 * `<models dir>` (the longer first, in case one lies inside the other), any other path on this
 * machine (the install's node_modules in an error of a native binding, a temporary file) becomes
 * `<server path>` followed by its last segment. Every response body, event and log line of the
 * service goes through here (redactResponses, streamEvents, the context's log).
 */
export function withoutServerPaths(dirs: ServerDirs, text: string): string {
  const names: [string, string][] = [
    [dirs.dataDir, '<data dir>'],
    [dirs.modelsDir, '<models dir>'],
  ];
  const named = names.sort(([a], [b]) => b.length - a.length).reduce((result, [dir, name]) => result.replaceAll(dir, name), text);
  return named.replace(OTHER_PATHS, (path) => `<server path>${lastSegment(path)}`);
}

/** Media types of the bodies that are rewritten whole (the documentation and metrics hold no paths; event streams go through streamEvents). */
const TEXT_BODIES = /^application\/(?:[\w.+-]+\+)?json\b/;

/** Rewrites every JSON response (results, job views, problem documents) with withoutServerPaths. */
export function redactResponses(dirs: ServerDirs): MiddlewareHandler {
  return async (c, next) => {
    await next();
    if (!TEXT_BODIES.test(c.res.headers.get('content-type') ?? '')) return;
    const { status, statusText } = c.res;
    const headers = new Headers(c.res.headers);
    headers.delete('content-length');
    const body = withoutServerPaths(dirs, await c.res.text());
    // Unset first: Hono's setter would carry the old response's headers over to the new one.
    c.res = undefined;
    c.res = new Response(body, { status, statusText, headers });
  };
}
