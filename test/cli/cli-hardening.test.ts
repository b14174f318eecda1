import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddingSpaceMap } from '../../src/esm/esm.js';
import { saveHfselectEsm } from '../../src/esm/hfselect.js';
import { MODELS_ROOT } from '../helpers/finetune.js';
import { randomEsm } from '../helpers/pool.js';
import { spawnTs } from '../helpers/processes.js';

let dir: string;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'esmselect-cli-hardening-'));
  env = { ESMSELECT_DATA_DIR: join(dir, 'data'), ESMSELECT_MODELS_DIR: MODELS_ROOT };
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function cli(...args: string[]) {
  const run = spawnTs('src/cli/main.ts', args, env);
  const { code } = await run.exited;
  return { code, stdout: run.stdout(), lines: run.lines };
}

describe('esmselect', () => {
  it('embeds a CSV saved with a UTF-8 byte-order mark (Excel\'s "CSV UTF-8") as the same file without it', async () => {
    const csv = 'text,label\ngood film,pos\nbad film,neg\nfine film,pos\n';
    await writeFile(join(dir, 'plain.csv'), csv);
    await writeFile(join(dir, 'excel.csv'), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(csv)]));
    for (const name of ['plain', 'excel']) {
      const run = await cli(
        'embed',
        '--dataset',
        join(dir, `${name}.csv`),
        '--text-col',
        'text',
        '--label-col',
        'label',
        '--model',
        'tiny-bert',
        '--no-cache',
        '--out',
        join(dir, `${name}.npy`),
      );
      expect(run.code, run.lines.join('\n')).toBe(0);
    }
    expect(await readFile(join(dir, 'excel.npy'))).toEqual(await readFile(join(dir, 'plain.npy')));
  });

  it('esm import rejects a config whose base_model_name is not a Hub name, in one line', async () => {
    const esm = randomEsm('bad/base', 8, 2);
    await mkdir(join(dir, 'imports'), { recursive: true });
    await saveHfselectEsm(new EmbeddingSpaceMap({ ...esm.config, base_model_name: '../../etc' }, esm.weight, esm.bias), join(dir, 'imports', 'bad'));
    const run = await cli('esm', 'import', join(dir, 'imports'));
    expect(run.code).toBe(0);
    expect(run.stdout.trim().split('\n')).toEqual([
      `rejected ${join(dir, 'imports', 'bad')}: config.json: base_model_name: must be a Hugging Face model name: "name" or "org/name" of letters, digits and "._-"`,
      'imported 0, skipped 0 (already registered), rejected 1',
    ]);
  });
});
