import { createHash } from 'node:crypto';
import { downloadFile, type PathInfo } from '@huggingface/hub';
import type { HubClient } from './client.js';

/**
 * Downloading one file of a repo at a commit, checked as it streams: never more bytes than the Hub
 * announced (nor than a cap), and the content's hash equal to the one the tree API announced before
 * the download began: the sha256 of an LFS file, the git blob id of a regular one. The bytes stay in
 * memory (they are parsed next), so an interrupted download leaves nothing behind.
 */

/** A file whose content is not what the Hub said it would be, or is too large to accept. */
export class FileRejection extends Error {
  override readonly name = 'FileRejection';
  constructor(
    message: string,
    /** The same repo at the same commit would be refused again (size bounds), unlike a transfer that went wrong. */
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

/** What the tree API announced about a file before it is downloaded. */
export interface AnnouncedFile {
  readonly path: string;
  readonly size: number;
  /** sha256 of an LFS file's content. */
  readonly sha256?: string;
  /** The git blob id (sha1 of `blob <size>\0` + content) of a regular file. */
  readonly gitOid?: string;
}

const HEX = (length: number) => new RegExp(`^[0-9a-f]{${length}}$`);

/** A tree entry as an AnnouncedFile, or null when the entry is not a file with a checkable hash. */
export function announcedFile(entry: PathInfo): AnnouncedFile | null {
  if (entry.type !== 'file') return null;
  if (entry.lfs) {
    if (!HEX(64).test(String(entry.lfs.oid)) || !Number.isSafeInteger(entry.lfs.size) || entry.lfs.size < 0) return null;
    return { path: entry.path, size: entry.lfs.size, sha256: entry.lfs.oid };
  }
  if (!HEX(40).test(String(entry.oid)) || !Number.isSafeInteger(entry.size) || entry.size < 0) return null;
  return { path: entry.path, size: entry.size, gitOid: entry.oid };
}

/**
 * Downloads `file` of `repo` at `commit` (a full sha: files of one commit, whatever is pushed
 * meanwhile) through @huggingface/hub, refusing it once it exceeds `maxBytes` or what was
 * announced, and checking its hash at the end. The result owns its buffer alone.
 */
export async function downloadVerified(hub: HubClient, repo: string, commit: string, file: AnnouncedFile, maxBytes: number): Promise<Uint8Array> {
  if (file.size > maxBytes) throw new FileRejection(`${file.path} is ${file.size} bytes, more than the ${maxBytes} accepted`, true);
  // The tree API already gave size and hash, so the client's probe request (`fileDownloadInfo`) is skipped.
  const url = `${hub.config.endpoint}/${repo}/resolve/${commit}/${file.path}`;
  const blob = await downloadFile({
    ...hub.params,
    repo,
    path: file.path,
    revision: commit,
    downloadInfo: { etag: file.sha256 ?? file.gitOid ?? '', size: file.size, url },
  });
  if (!blob) throw new FileRejection(`${file.path} is missing at ${commit.slice(0, 12)}`, true);
  const hash = createHash(file.sha256 ? 'sha256' : 'sha1');
  if (!file.sha256) hash.update(`blob ${file.size}\0`);
  // The announced size, bounded above, is allocated once: the bytes land in a buffer of their own
  // (one that can be moved to another thread), and a server sending more is caught before the copy.
  const bytes = new Uint8Array(file.size);
  let received = 0;
  const reader = blob.stream().getReader();
  try {
    for (;;) {
      let read: Awaited<ReturnType<typeof reader.read>>;
      try {
        read = await reader.read();
      } catch (error) {
        // The client aborts the stream with the failed response's message (a string), or the fetch's error.
        throw error instanceof Error ? error : new Error(String(error));
      }
      if (read.done) break;
      if (received + read.value.byteLength > file.size)
        throw new FileRejection(`${file.path}: the download sent more than the ${file.size} bytes announced`, false);
      hash.update(read.value);
      bytes.set(read.value, received);
      received += read.value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  if (received !== file.size) throw new FileRejection(`${file.path}: the download ended after ${received} of the ${file.size} bytes announced`, false);
  const actual = hash.digest('hex');
  const expected = file.sha256 ?? file.gitOid!;
  if (actual !== expected) {
    const kind = file.sha256 ? 'sha256' : 'git blob id';
    throw new FileRejection(`${file.path}: its ${kind} is ${actual.slice(0, 12)}…, not the ${expected.slice(0, 12)}… the Hub announced`, false);
  }
  return bytes;
}
