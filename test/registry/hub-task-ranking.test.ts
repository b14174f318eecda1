import { mkdtempSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config.js';
import { computeTaskRanking, embedDataset, hubConfig, openRegistry, rank } from '../../src/index.js';
import { esmModelCard } from '../helpers/hub/seed.js';
import { type HubStandin, startHubStandin } from '../helpers/hub/standin.js';

/** hfselect's one call, `compute_task_ranking(dataset, model_name)`, from a script: no registry plumbing. */
let hub: HubStandin;
const demo = join(PACKAGE_ROOT, 'test', 'fixtures', 'demo-tiny-bert');
beforeAll(async () => {
  hub = await startHubStandin();
  hub.store.create('model', 'esmselect/tiny-bert');
  hub.store.rename('model', 'tiny-bert', 'esmselect/tiny-bert');
  for (const name of (await readdir(join(demo, 'esms'))).sort()) {
    const configText = await readFile(join(demo, 'esms', name, 'config.json'), 'utf8');
    const repo = hub.store.create('model', `demo/${name}`);
    hub.store.commit(repo, 'main', {
      title: 'ESM',
      files: {
        'config.json': configText,
        'model.safetensors': await readFile(join(demo, 'esms', name, 'model.safetensors')),
        'README.md': esmModelCard(JSON.parse(configText)),
      },
    });
  }
});
afterAll(() => hub.close());

describe('computeTaskRanking', () => {
  it('pulls the ESMs published for the model, embeds the target and ranks them as the same ESMs rank from their folders', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'esmselect-ctr-')), 'data');
    const registry = openRegistry({ dataDir });
    const options = {
      dataset: join(demo, 'target.csv'),
      textColumn: 'text',
      labelColumn: 'label',
      modelName: 'tiny-bert',
      hub: hubConfig({ HF_ENDPOINT: hub.endpoint }),
      registry,
    };
    const ranking = await computeTaskRanking(options);
    expect(ranking.pull).toMatchObject({ baseModel: 'esmselect/tiny-bert', imported: 12 });

    const target = await embedDataset(join(demo, 'target.csv'), { textColumns: 'text', labelColumn: 'label', model: 'tiny-bert' });
    const fromFolders = await rank({ embeddings: target.embeddings, labels: target.dataset.labels, esms: [join(demo, 'esms')] });
    expect(ranking.ranking.map((t) => [t.task_id, t.score.toFixed(6)])).toEqual(fromFolders.ranking.map((t) => [t.task_id, t.score.toFixed(6)]));

    // hfselect's esm_repo_ids, and the registry's filters, narrow the pool; a second call downloads nothing.
    try {
      const some = await computeTaskRanking({ ...options, esmRepoIds: ['demo/source-03', 'demo/source-07'] });
      expect(some.ranking.map((t) => t.task_id).sort()).toEqual(['demo/datasets/source-03.csv', 'demo/datasets/source-07.csv']);
      const english = await computeTaskRanking({ ...options, filters: { language: 'en' }, top: 3 });
      expect(english.pull).toMatchObject({ imported: 0, unchanged: 12 });
      expect(english.ranking).toHaveLength(3);
      await expect(computeTaskRanking({ ...options, filters: { language: 'xx' } })).rejects.toThrow(
        /no usable ESMs for esmselect\/tiny-bert on the Hub that match the filters/,
      );
    } finally {
      registry.close();
    }
  }, 120_000);
});
