import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Writes a file so that a crash leaves either the old file or the complete new one: the bytes go to
 * a temporary sibling, are fsynced, and the temporary file is renamed over the target; then the
 * directory is fsynced so the rename itself is durable.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  await syncDirectory(dirname(path));
}

const TEMPORARY_NAME = /^(.+)\.tmp-(\d+)-[0-9a-f]{8}$/;

/**
 * For a file name `writeFileAtomic` uses while writing, the target it was writing and the process
 * writing it; null for any other name. A crash leaves such files behind: they are complete or not,
 * and were never the target, so they can go once their process is gone.
 */
export function temporaryFileOwner(name: string): { target: string; pid: number } | null {
  const match = TEMPORARY_NAME.exec(name);
  return match ? { target: match[1], pid: Number(match[2]) } : null;
}

export async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
