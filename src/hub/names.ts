/**
 * Names and text that come from the Hub are written by strangers: repo ids are checked before they
 * go into a URL, and any text is made printable before it reaches a terminal or a log.
 */

/**
 * Why `id` is not a Hub repo id, or null when it is one. huggingface_hub's `validate_repo_id`:
 * `[namespace/]name` of word characters, `-` and `.`, starting and ending with a word character,
 * the name at most 96 long, no `--` or `..`, not ending in `.git`. So an id never walks out of
 * the path it is put in (`..`, `/` beyond one, `?`, `#`, `%`).
 */
export function repoIdProblem(id: string): string | null {
  const part = (max: number) => `[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,${max - 2}}[A-Za-z0-9_])?`;
  if (!new RegExp(`^(?:${part(96)}/)?${part(96)}$`).test(id)) return 'not a repo id (namespace/name of letters, digits, "_", "-" and ".")';
  if (id.includes('--') || id.includes('..')) return 'not a repo id ("--" and ".." are not allowed)';
  if (id.endsWith('.git')) return 'not a repo id (ends in ".git")';
  return null;
}

/** C0 and C1 control characters, and the bidirectional overrides that reorder what a terminal shows. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is this pattern's purpose.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

export function hasControlCharacters(text: string): boolean {
  UNPRINTABLE.lastIndex = 0;
  return UNPRINTABLE.test(text);
}

/** `text` with control characters shown as `\u001b` escapes, cut to `max` characters: safe to print. */
export function printable(text: string, max = 200): string {
  const shown = text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return shown.length > max ? `${shown.slice(0, max - 1)}…` : shown;
}
