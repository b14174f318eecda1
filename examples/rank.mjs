// Ranks the demo target against the demo pool with the library API (the built dist/, as a
// package user imports it), then prints the top tasks as a table and a bar chart.
//   npm run build && node examples/rank.mjs [dataset.csv] [model]
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { embedDataset, importEsmFolders, openRegistry, RegistryEmbeddingCache, rank, registryPool } from '../dist/index.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const dataset = process.argv[2] ?? join(root, 'demo', 'target.csv');
const model = process.argv[3] ?? 'wordnet-bert';

// A registry of its own, so the example leaves the user's data dir alone.
const registry = openRegistry({ dataDir: mkdtempSync(join(tmpdir(), 'esmselect-example-')) });
try {
  await importEsmFolders(registry, [join(root, 'demo', 'esms')]);
  const { embeddings, dataset: target } = await embedDataset(dataset, {
    textColumns: 'text',
    labelColumn: 'label',
    model,
    cache: new RegistryEmbeddingCache(registry),
  });
  const result = await rank({ embeddings, labels: target.labels, esms: registryPool(registry), top: 5 });

  console.table(result.ranking.map(({ rank, task_id, score }) => ({ rank, task_id, score: Number(score.toFixed(4)) })));
  const scores = result.ranking.map((t) => t.score);
  const low = Math.min(...scores);
  const span = Math.max(...scores) - low || 1;
  for (const task of result.ranking)
    console.log(`${task.task_id.padEnd(28)} ${'█'.repeat(1 + Math.round(((task.score - low) / span) * 39))} ${task.score.toFixed(4)}`);
} finally {
  registry.close();
}
