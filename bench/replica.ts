import { link, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONFIG_FILE, WEIGHTS_FILE } from '../src/esm/hfselect.js';

/**
 * A pool of `count` ESMs built from the few distinct ESMs of an anchor pool without copying weights:
 * ESM i hard-links model.safetensors of source ESM i mod S and gets its own config.json with a unique
 * task_id. Reading it still streams count × D² × 4 bytes through the loader. The target directory is
 * linked too. Returns the pool directory (`dir`, replaced if present).
 */
export async function buildReplicatedPool(source: string, count: number, dir: string): Promise<string> {
  const sources = (await readdir(join(source, 'esms'), { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => join(source, 'esms', e.name))
    .sort();
  if (sources.length === 0) throw new Error(`${source}/esms holds no ESM folders`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'target'), { recursive: true });
  for (const name of await readdir(join(source, 'target'))) await link(join(source, 'target', name), join(dir, 'target', name));
  const configs = await Promise.all(sources.map(async (s) => JSON.parse(await readFile(join(s, CONFIG_FILE), 'utf8')) as Record<string, unknown>));
  const width = String(count - 1).length;
  for (let i = 0; i < count; i++) {
    const k = i % sources.length;
    const folder = join(dir, 'esms', `replica-${String(i).padStart(width, '0')}`);
    await mkdir(folder, { recursive: true });
    await link(join(sources[k], WEIGHTS_FILE), join(folder, WEIGHTS_FILE));
    await writeFile(join(folder, CONFIG_FILE), JSON.stringify({ ...configs[k], task_id: `${String(configs[k].task_id)}#${i}` }));
  }
  return dir;
}
