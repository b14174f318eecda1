import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { downloadFile, type RepoDesignation } from '@huggingface/hub';
import { syncDirectory } from '../io/atomic.js';
import { hubFailure } from './api-failures.js';
import type { HubClient } from './client.js';
import { HubContentError } from './hub-errors.js';
import { quoted } from './repo-files.js';
import { describeLimit, formatBytes, type SizeLimit } from './size-limits.js';

/**
 * A file of a repo as the tree or paths-info API announces it, before it is downloaded: its size and
 * what it must hash to. LFS files carry the sha256 of their content (`lfs.oid`); regular files their
 * git blob id (`oid`: sha1 of `blob <size>\0` + content). Either is checked on every byte received.
 */
export interface AnnouncedFile {
  readonly path: string;
  readonly size: number;
  readonly sha256?: string;
  readonly gitOid?: string;
}

/** The announcement of a tree or paths-info entry; a hostile entry (no checksum, a negative size) is refused. */
export function announced(entry: { path: string; size: number; oid?: string; lfs?: { oid: string; size: number } }, where: string): AnnouncedFile {
  const size = entry.lfs?.size ?? entry.size;
  if (!Number.isSafeInteger(size) || size < 0)
    throw new HubContentError(`${where}: the Hub announces ${quoted(entry.path)} with no valid size; refused`, 'hub');
  if (entry.lfs && /^[0-9a-f]{64}$/.test(entry.lfs.oid)) return { path: entry.path, size, sha256: entry.lfs.oid };
  if (!entry.lfs && entry.oid && /^[0-9a-f]{40}$/.test(entry.oid)) return { path: entry.path, size, gitOid: entry.oid };
  throw new HubContentError(`${where}: the Hub announces ${quoted(entry.path)} without a checksum to verify it against; refused`, 'hub');
}

/** The name a verified file is kept under in a content-addressed store. */
export function contentName(file: AnnouncedFile): string {
  return file.sha256 ?? `git-${file.gitOid}`;
}

function newHash(file: AnnouncedFile): Hash {
  if (file.sha256) return createHash('sha256');
  return createHash('sha1').update(`blob ${file.size}\0`);
}

export interface DownloadOptions {
  readonly limit: SizeLimit;
  /** Bytes received so far of this file (resumed bytes included), and its size. */
  readonly onBytes?: (done: number, total: number) => void;
  readonly signal?: AbortSignal;
}

/**
 * Downloads one file of a repo at a pinned commit to `dest`, verified, atomically and resumably:
 * the bytes go to `dest.part` (a rerun continues it with an HTTP Range request after hashing what is
 * there), are counted against the announced size (a server sending more is cut off), hashed, and
 * only a file whose hash is the announced one is renamed to `dest`; a mismatch removes the part and
 * is refused. A file over `limit` is refused before any byte is fetched.
 */
export async function downloadVerified(
  hub: HubClient,
  repo: RepoDesignation,
  revision: string,
  file: AnnouncedFile,
  dest: string,
  options: DownloadOptions,
): Promise<void> {
  const name = typeof repo === 'string' ? repo : repo.name;
  const where = `${name}/${file.path}`;
  if (file.size > options.limit.bytes) {
    throw new HubContentError(`hub: ${where} is ${formatBytes(file.size)}; esmselect downloads ${describeLimit(options.limit)}`, 'hub');
  }
  await mkdir(dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  let done = (await stat(part).catch(() => null))?.size ?? 0;
  if (done > file.size) {
    await rm(part, { force: true });
    done = 0;
  }
  const hash = newHash(file);
  if (done > 0) for await (const chunk of createReadStream(part)) hash.update(chunk as Buffer);
  options.onBytes?.(done, file.size);

  if (done < file.size) {
    let blob: Blob | null;
    try {
      blob = await downloadFile({ ...hub.params, repo, path: file.path, revision });
    } catch (error) {
      throw hubFailure(error, { what: where, field: 'hub', notFound: 'not found on the Hub' });
    }
    if (!blob) throw new HubContentError(`hub: ${where} is listed but cannot be downloaded (the Hub says it does not exist)`, 'hub');
    if (blob.size !== file.size) throw new HubContentError(`hub: ${where}: the Hub announces ${file.size} bytes but serves ${blob.size}; refused`, 'hub');
    const handle = await open(part, 'a');
    try {
      const stream = blob.slice(done).stream() as unknown as AsyncIterable<Uint8Array>;
      for await (const chunk of stream) {
        options.signal?.throwIfAborted();
        if (done + chunk.length > file.size)
          throw new HubContentError(`hub: ${where}: the Hub sends more than the ${file.size} bytes it announced; refused`, 'hub');
        hash.update(chunk);
        await handle.write(chunk);
        done += chunk.length;
        options.onBytes?.(done, file.size);
      }
      await handle.sync();
    } catch (error) {
      throw error instanceof HubContentError || (error as Error).name === 'AbortError'
        ? error
        : hubFailure(error, { what: where, field: 'hub', notFound: 'not found on the Hub' });
    } finally {
      await handle.close();
    }
    // The part stays for the next run to continue.
    if (done < file.size)
      throw new HubContentError(`hub: ${where}: the download ended after ${done} of ${file.size} bytes; run the command again to continue`, 'hub');
  }
  const digest = hash.digest('hex');
  const wanted = file.sha256 ?? file.gitOid;
  if (digest !== wanted) {
    await rm(part, { force: true });
    throw new HubContentError(
      `hub: ${where} does not match the ${file.sha256 ? 'sha256' : 'git blob id'} the Hub announces (${wanted!.slice(0, 12)}…, received ${digest.slice(0, 12)}…); refused`,
      'hub',
    );
  }
  await rename(part, dest);
  await syncDirectory(dirname(dest));
}

/**
 * `length` bytes of a remote file from `start`, through an HTTP Range request, refusing a server that
 * sends more (one ignoring the Range would otherwise send the whole file).
 */
export async function readRange(blob: Blob, start: number, length: number, where: string): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let at = 0;
  if (length === 0) return out;
  const stream = blob.slice(start, start + length).stream() as unknown as AsyncIterable<Uint8Array>;
  for await (const chunk of stream) {
    if (at + chunk.length > length) throw new HubContentError(`hub: ${where}: asked for ${length} bytes from ${start}, the Hub sends more; refused`, 'hub');
    out.set(chunk, at);
    at += chunk.length;
  }
  if (at !== length) throw new HubContentError(`hub: ${where}: asked for ${length} bytes from ${start}, received ${at}`, 'hub');
  return out;
}
