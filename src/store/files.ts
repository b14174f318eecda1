import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';

/** Where ESM weights live, relative to the data dir: one file per distinct content. */
export const ESMS_DIR = 'esms';

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The content address of a weights file, relative to the data dir. */
export function weightsPath(sha256: string): string {
  return join(ESMS_DIR, `${sha256}.safetensors`);
}

/** A stored file, read and checked against the checksum its row records; or why it cannot be used. */
export type VerifiedFile = { readonly bytes: Uint8Array } | { readonly problem: string };

export async function readVerifiedFile(dataDir: string, relative: string, sha256: string): Promise<VerifiedFile> {
  let bytes: Buffer;
  try {
    bytes = await readFile(join(dataDir, relative));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { problem: code === 'ENOENT' ? `${relative} is missing` : `${relative} cannot be read (${code})` };
  }
  const actual = sha256Hex(bytes);
  if (actual !== sha256) return { problem: `${relative} fails its checksum (sha256 ${actual.slice(0, 12)}…, registered ${sha256.slice(0, 12)}…)` };
  return { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}

/**
 * Makes sure `relative` holds exactly `bytes` (whose SHA-256 is `sha256`): an intact copy is kept,
 * anything else (missing, truncated, corrupt) is replaced atomically (temp → fsync → rename → fsync
 * dir). Returns whether it wrote. Content addressing makes concurrent writers of the same file
 * harmless: they write identical bytes.
 */
export async function storeFile(dataDir: string, relative: string, bytes: Uint8Array, sha256: string): Promise<boolean> {
  const existing = await readVerifiedFile(dataDir, relative, sha256);
  if ('bytes' in existing) return false;
  const path = join(dataDir, relative);
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, bytes);
  return true;
}

/** A synchronous existence check, for use inside a write transaction (better-sqlite3 transactions are synchronous). */
export function storedFileExists(dataDir: string, relative: string): boolean {
  return existsSync(join(dataDir, relative));
}
