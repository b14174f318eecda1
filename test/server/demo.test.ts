import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { embedDataset } from '../../src/embed/embed-dataset.js';
import { rank } from '../../src/rank/rank.js';
import { registryPool } from '../../src/registry/pool.js';
import { findRankedSourceDataset, findSourceDataset, readRegisteredTask } from '../../src/registry/sources.js';
import { DEMO_DATASETS_DIR, DEMO_ESMS_DIR, seedDemoPool } from '../../src/server/demo.js';
import { openRegistry, type Registry } from '../../src/store/database.js';
import { listDatasets } from '../../src/store/datasets.js';
import { listEsms } from '../../src/store/esms.js';
import { recordRankingRun } from '../../src/store/rankings.js';
import { readCorpus } from '../../study/wordnet/corpus.js';
import { TINY_BERT_DEMO } from '../helpers/server.js';

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

const csvRows = (path: string) =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const cut = line.lastIndexOf(',');
      return {
        text: line
          .slice(0, cut)
          .replace(/^"(.*)"$/, '$1')
          .replace(/""/g, '"'),
        label: line.slice(cut + 1),
      };
    });

describe('the demo pool', () => {
  it('holds one ESM of a real wordnet-bert fine-tune per shipped dataset, named by the dataset path', () => {
    const esms = readdirSync(DEMO_ESMS_DIR).sort();
    expect(esms.length).toBeGreaterThanOrEqual(8);
    expect(readdirSync(DEMO_DATASETS_DIR).sort()).toEqual(esms.map((e) => `${e}.csv`).sort());
    for (const name of esms) {
      const config = JSON.parse(readFileSync(join(DEMO_ESMS_DIR, name, 'config.json'), 'utf8'));
      expect(config).toMatchObject({
        base_model_name: 'wordnet-bert',
        task_id: `demo/datasets/${name}.csv`,
        task_split: 'train',
        text_column: 'text',
        label_column: 'label',
        lm_optimizer: 'AdamW',
        esm_embedding_dim: 64,
      });
      expect(config.developers).toMatch(/demo pool: ESMs of real fine-tunes/);
    }
  });

  it('ships WordNet texts labelled with their lexicographer files, named by their classes, none shared with the target', async () => {
    const filesOf = new Map<string, Set<string>>();
    for (const s of await readCorpus()) {
      for (const text of [s.definition, ...s.examples]) filesOf.set(text, (filesOf.get(text) ?? new Set()).add(s.lexname));
    }
    const target = csvRows(join(root, 'demo', 'target.csv'));
    expect(new Set(target.map((r) => r.label))).toEqual(new Set(['noun.animal', 'noun.plant', 'noun.food']));
    const targetTexts = new Set(target.map((r) => r.text));
    for (const file of readdirSync(DEMO_DATASETS_DIR)) {
      const rows = csvRows(join(DEMO_DATASETS_DIR, file));
      const labels = [...new Set(rows.map((r) => r.label))];
      // `animal-or-plant-vs-food.csv`: the classes noun.animal+noun.plant and noun.food.
      const named = file
        .replace(/(-verbs)?(-usage)?\.csv$/, '')
        .split('-vs-')
        .map((c) =>
          c
            .split('-or-')
            .map((f) => `${file.includes('-verbs') ? 'verb' : 'noun'}.${f}`)
            .join('+'),
        );
      expect(labels.sort()).toEqual(named.sort());
      for (const { text, label } of [...rows, ...target])
        expect(
          label.split('+').some((f) => filesOf.get(text)?.has(f)),
          `${file}: "${text}" labelled ${label}`,
        ).toBe(true);
      expect(rows.filter((r) => targetTexts.has(r.text))).toEqual([]);
    }
  });

  it('is seeded into an empty registry with its datasets, so a ranked demo source resolves to its data', async () => {
    const reg = freshRegistry();
    const count = readdirSync(DEMO_ESMS_DIR).length;
    const seeded = await seedDemoPool(reg);
    expect(seeded).toMatchObject({ imported: count, rejected: 0, datasets: count });
    expect(listDatasets(reg)).toHaveLength(count);
    // Every ESM's task names a registered dataset, copied byte for byte into the data dir.
    for (const esm of listEsms(reg)) {
      const dataset = findSourceDataset(reg, { taskId: esm.task_id, subset: esm.task_subset, split: esm.task_split });
      expect(readFileSync(reg.resolve(dataset.name))).toEqual(readFileSync(join(root, dataset.name)));
      expect(dataset.num_rows).toBe(esm.num_examples);
    }
    // The README's example: rank demo/target.csv, then fine-tune on the top source.
    const { embeddings, dataset } = await embedDataset(join(root, 'demo', 'target.csv'), { textColumns: 'text', labelColumn: 'label', model: 'wordnet-bert' });
    const result = await rank({ embeddings, labels: dataset.labels, esms: registryPool(reg) });
    expect(result.scored).toBe(count);
    const runId = recordRankingRun(reg, { result, esmSource: 'registry' });
    const top = findRankedSourceDataset(reg, runId, 1);
    expect(top.name).toBe(result.ranking[0].task_id);
    const task = await readRegisteredTask(top);
    expect(task.texts).toHaveLength(top.num_rows!);
    expect(new Set(task.labels).size).toBeGreaterThanOrEqual(2);
    // A sensible ranking: the source with the target's own classes before every source of verbs.
    const position = (name: string) => result.ranking.findIndex((t) => t.task_id === `demo/datasets/${name}.csv`);
    const verbs = result.ranking.flatMap((t, i) => (t.task_id.includes('-verbs') ? [i] : []));
    expect(verbs.length).toBeGreaterThan(0);
    expect(position('animal-vs-plant-vs-food')).toBeGreaterThanOrEqual(0);
    expect(position('animal-vs-plant-vs-food')).toBeLessThan(Math.min(...verbs));

    expect(await seedDemoPool(reg)).toBeNull();
  });

  it('seeds another pool of the same layout when given one (the tests’ tiny-bert pool)', async () => {
    const reg = freshRegistry();
    expect(await seedDemoPool(reg, TINY_BERT_DEMO)).toMatchObject({ imported: 12, rejected: 0, datasets: 12 });
    expect(new Set(listEsms(reg).map((e) => e.base_model_name))).toEqual(new Set(['tiny-bert']));
  });
});
