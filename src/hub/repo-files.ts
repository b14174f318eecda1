import { HubContentError } from './hub-errors.js';

/**
 * Names that come from the Hub (repo ids, file paths in a repo, config and split names) are written
 * by strangers. Before one names anything on disk it must be a plain relative path that cannot leave
 * the folder it is joined to; anything else is refused with the name quoted, never used.
 */

/**
 * A repo id as the Hub allows it (`huggingface_hub`'s `validate_repo_id`): `name` or `namespace/name`,
 * letters, digits, `.`, `_` and `-`, not starting with `.` or `-`, without `--` or `..`, at most 96
 * characters per part.
 */
const REPO_ID = /^(?:[A-Za-z0-9][\w.-]{0,95}\/)?[A-Za-z0-9][\w.-]{0,95}$/;

export function isRepoId(id: string): boolean {
  return REPO_ID.test(id) && !id.includes('--') && !id.includes('..') && !/[.-]$/.test(id) && !/[.-]\//.test(id);
}

/** A name from the Hub quoted for a message: control characters escaped, cut to 100 characters. */
export function quoted(name: string): string {
  const text = JSON.stringify(name.length > 100 ? `${name.slice(0, 100)}…` : name);
  return text;
}

/** A commit sha as the Hub gives it (40 hex digits). */
export function isCommitSha(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9a-f]{40}$/.test(value);
}

/**
 * Checks a file path of a repo before it is joined to a local folder: relative, `/`-separated, no
 * empty, `.` or `..` segment, no backslash, NUL or drive letter, at most 1024 characters.
 */
export function checkRepoPath(path: string, where: string): string {
  const segments = path.split('/');
  const bad =
    path.length === 0 ||
    path.length > 1024 ||
    path.startsWith('/') ||
    /^[A-Za-z]:/.test(path) ||
    /[\\\0]/.test(path) ||
    segments.some((segment) => segment === '' || segment === '.' || segment === '..' || segment.length > 255);
  if (bad) throw new HubContentError(`${where}: the Hub lists a file ${quoted(path)}, which is not a plain relative path; refused`, 'hub');
  return path;
}

/** One segment of a name the Hub chose (a dataset config or split) that becomes part of nothing on disk but must still be plain. */
export function checkRepoSegment(segment: string, where: string): string {
  if (!/^[^/\\\0]{1,255}$/.test(segment) || segment === '.' || segment === '..')
    throw new HubContentError(`${where}: the Hub names ${quoted(segment)}, which is not a plain name; refused`, 'hub');
  return segment;
}
