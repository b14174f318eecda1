import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { embedDataset } from '../src/embed/embed-dataset.js';
import { findRankedSourceDataset, findSourceDataset, readRegisteredTask } from '../src/finetune/sources.js';
import { rank } from '../src/rank/rank.js';
import { DEMO_DATASETS_DIR, DEMO_ESMS_DIR, seedDemoPool } from '../src/server/demo.js';
import { openRegistry, type Registry } from '../src/store/database.js';
import { listDatasets } from '../src/store/datasets.js';
import { registryPool } from '../src/registry/pool.js';
import { listEsms } from '../src/store/esms.js';
import { recordRankingRun } from '../src/store/rankings.js';
import { FULL_STUDY } from '../src/study/config.js';
import { generateFamily } from '../src/study/tasks.js';

const root = join(DEMO_ESMS_DIR, '..', '..');
let registry: Registry | undefined;
afterEach(() => {
  if (registry) rmSync(registry.dataDir, { recursive: true, force: true });
  registry?.close();
  registry = undefined;
});

function freshRegistry(): Registry {
  registry = openRegistry({ dataDir: mkdtempSync(join(tmpdir(), 'esmselect-demo-')) });
  return registry;
}

describe('the demo pool', () => {
  it('holds one ESM of a real tiny-bert fine-tune per shipped dataset, named by the dataset path', () => {
    const esms = readdirSync(DEMO_ESMS_DIR).sort();
    expect(esms).toHaveLength(12);
    expect(readdirSync(DEMO_DATASETS_DIR).sort()).toEqual(esms.map((e) => `${e}.csv`));
    for (const name of esms) {
      const config = JSON.parse(readFileSync(join(DEMO_ESMS_DIR, name, 'config.json'), 'utf8'));
      expect(config).toMatchObject({ base_model_name: 'tiny-bert', task_id: `demo/datasets/${name}.csv`, task_split: 'train', text_column: 'text', label_column: 'label', lm_optimizer: 'AdamW' });
      expect(config.developers).toMatch(/demo pool: ESMs of real fine-tunes/);
    }
  });

  it("ships the study's source tasks (their first examples) and a study target, as the generator writes them", () => {
    const family = generateFamily(FULL_STUDY.family);
    const source = family.sources[2];
    const lines = readFileSync(join(DEMO_DATASETS_DIR, 'source-03.csv'), 'utf8').trim().split('\n');
    expect(lines[0]).toBe('text,label');
    expect(lines.slice(1, 6)).toEqual([0, 1, 2, 3, 4].map((i) => `${source.train.texts[i]},${source.train.labels[i]}`));
    const target = readFileSync(join(root, 'demo', 'target.csv'), 'utf8').trim().split('\n');
    expect(target).toHaveLength(61);
    expect(target[1]).toBe(`${family.targets[0].train.texts[0]},${family.targets[0].train.labels[0]}`);
  });

  it('is seeded into an empty registry with its datasets, so a ranked demo source resolves to its data', async () => {
    const reg = freshRegistry();
    const seeded = await seedDemoPool(reg);
    expect(seeded).toMatchObject({ imported: 12, rejected: 0, datasets: 12 });
    expect(listDatasets(reg)).toHaveLength(12);
    // Every ESM's task names a registered dataset, copied byte for byte into the data dir.
    for (const esm of listEsms(reg)) {
      const dataset = findSourceDataset(reg, { taskId: esm.task_id, subset: esm.task_subset, split: esm.task_split });
      expect(readFileSync(reg.resolve(dataset.name))).toEqual(readFileSync(join(root, dataset.name)));
      expect(dataset.num_rows).toBe(esm.num_examples);
    }
    // The README's example: rank demo/target.csv, then fine-tune on the top source.
    const { embeddings, dataset } = await embedDataset(join(root, 'demo', 'target.csv'), { textColumns: 'text', labelColumn: 'label', model: 'tiny-bert' });
    const result = await rank({ embeddings, labels: dataset.labels, esms: registryPool(reg) });
    expect(result.scored).toBe(12);
    const runId = recordRankingRun(reg, { result, esmSource: 'registry' });
    const top = findRankedSourceDataset(reg, runId, 1);
    expect(top.name).toBe(result.ranking[0].task_id);
    const task = await readRegisteredTask(top);
    expect(task.texts).toHaveLength(top.num_rows!);
    expect(new Set(task.labels).size).toBeGreaterThanOrEqual(2);

    expect(await seedDemoPool(reg)).toBeNull();
  });
});
