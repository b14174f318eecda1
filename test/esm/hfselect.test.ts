import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EsmFormatError, loadHfselectEsm, saveHfselectEsm } from '../../src/esm/hfselect.js';
import { findEsmFolders, readEsmFolders } from '../../src/esm/pool.js';
import { serializeSafetensors } from '../../src/io/safetensors.js';
import { rankPool } from '../../src/rank/ranking.js';
import { prepareTarget } from '../../src/rank/target.js';
import { encodeClassLabels } from '../../src/task/labels.js';
import { randomEsm } from '../helpers/pool.js';
import { randomGenerator } from '../helpers/random.js';
import { referenceDir } from '../helpers/reference.js';

const referenceEsms = join(referenceDir, 'esm-logme', 'small-pool', 'esms');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'esmselect-hfselect-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function brokenCopy(name: string, change: (folder: string) => Promise<void>): Promise<string> {
  const folder = join(dir, name);
  await cp(join(referenceEsms, 'synthetic__task-001'), folder, { recursive: true });
  await change(folder);
  return folder;
}

describe('hfselect ESM folders', () => {
  it('loads legacy 0.1.0 (sequential.0.*) and F16 ESMs, keeping every config field', async () => {
    const pool = JSON.parse(await readFile(join(referenceEsms, '..', 'pool.json'), 'utf8'));
    const legacy = pool.sources.find((s: { legacy: boolean }) => s.legacy).slug;
    const half = pool.sources.find((s: { dtype: string }) => s.dtype === 'F16').slug;
    for (const slug of [legacy, half]) {
      const esm = await loadHfselectEsm(join(referenceEsms, slug));
      const config = JSON.parse(await readFile(join(referenceEsms, slug, 'config.json'), 'utf8'));
      expect(esm.dim).toBe(16);
      expect(esm.config).toEqual(config);
    }
  });

  it('exports a folder that loads back identically, in the current layout', async () => {
    const esm = await loadHfselectEsm(join(referenceEsms, 'synthetic__task-000'));
    expect(esm.config.version).toBe('0.1.0');
    await saveHfselectEsm(esm, join(dir, 'exported'));
    const again = await loadHfselectEsm(join(dir, 'exported'));
    expect(again.config.version).toBe('0.2.0');
    expect({ ...again.config, version: '0.1.0' }).toEqual(esm.config);
    expect(Array.from(again.weight)).toEqual(Array.from(esm.weight));
    expect(Array.from(again.bias)).toEqual(Array.from(esm.bias));
  });

  const malformed: [string, (folder: string) => Promise<void>, RegExp][] = [
    ['missing-weights', (f) => rm(join(f, 'model.safetensors')), /model\.safetensors is missing/],
    ['missing-config', (f) => rm(join(f, 'config.json')), /config\.json is missing/],
    ['bad-json', (f) => writeFile(join(f, 'config.json'), '{"task_id": '), /not valid JSON/],
    [
      'no-task-id',
      async (f) => {
        const c = JSON.parse(await readFile(join(f, 'config.json'), 'utf8'));
        delete c.task_id;
        await writeFile(join(f, 'config.json'), JSON.stringify(c));
      },
      /task_id/,
    ],
    [
      'truncated',
      async (f) => {
        const bytes = await readFile(join(f, 'model.safetensors'));
        await writeFile(join(f, 'model.safetensors'), bytes.subarray(0, bytes.length - 100));
      },
      /truncated/,
    ],
    [
      'wrong-shape',
      async (f) => {
        const bytes = serializeSafetensors({
          'model.weight': { dtype: 'F32', shape: [16, 8], data: new Float32Array(128) },
          'model.bias': { dtype: 'F32', shape: [16], data: new Float32Array(16) },
        });
        await writeFile(join(f, 'model.safetensors'), bytes);
      },
      /shape \[16, 8\], expected \[16, 16\]/,
    ],
    [
      'nan-weights',
      async (f) => {
        const weight = new Float32Array(256);
        weight[17] = NaN;
        const bytes = serializeSafetensors({
          'model.weight': { dtype: 'F32', shape: [16, 16], data: weight },
          'model.bias': { dtype: 'F32', shape: [16], data: new Float32Array(16) },
        });
        await writeFile(join(f, 'model.safetensors'), bytes);
      },
      /model\.weight\[1, 1\] is not finite/,
    ],
  ];

  for (const [name, change, message] of malformed) {
    it(`rejects a folder with ${name}, naming the folder`, async () => {
      const folder = await brokenCopy(name, change);
      const error = await loadHfselectEsm(folder).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EsmFormatError);
      expect((error as EsmFormatError).source).toBe(folder);
      expect((error as Error).message).toMatch(message);
    });
  }

  it('never lets a bad ESM or a dimension mismatch abort the rest of a pool', async () => {
    const poolDir = join(dir, 'mixed-pool');
    await cp(join(referenceEsms, 'synthetic__task-002'), join(poolDir, 'good'), { recursive: true });
    await brokenCopy(join('mixed-pool', 'truncated'), async (f) => {
      const bytes = await readFile(join(f, 'model.safetensors'));
      await writeFile(join(f, 'model.safetensors'), bytes.subarray(0, 50));
    });
    await saveHfselectEsm(randomEsm('test/other-dim', 8, 3), join(poolDir, 'other-dim'));
    const folders = await findEsmFolders([poolDir]);
    expect(folders).toHaveLength(3);

    const rng = randomGenerator(5);
    const target = prepareTarget({ rows: 40, dim: 16, data: rng.normals(40 * 16) }, encodeClassLabels(Array.from({ length: 40 }, (_, i) => i % 2)));
    const result = await rankPool(target, readEsmFolders(folders), folders.length);
    expect(result.ranking.map((t) => t.source)).toEqual([join(poolDir, 'good')]);
    expect(result.rejected.map((r) => r.source).sort()).toEqual([join(poolDir, 'other-dim'), join(poolDir, 'truncated')]);
    expect(result.rejected.find((r) => r.source.endsWith('other-dim'))!.problem).toMatch(/dimension 8 does not match the target embeddings' 16/);
  });
});
