import { mkdir, readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PACKAGE_ROOT } from '../config.js';
import { writeFileAtomic } from '../io/atomic.js';
import { type ImportSummary, importEsmFolders } from '../registry/import.js';
import type { Registry } from '../store/database.js';
import { registerDataset } from '../store/datasets.js';
import { countEsms } from '../store/esms.js';
import { sha256Hex } from '../store/files.js';

/** A pool of ESM folders and the datasets of their source tasks, one CSV (`text`, `label`) per ESM. */
export interface DemoPool {
  readonly esms: string;
  readonly datasets: string;
}

/** The demo pool shipped with the package (demo/README.md says what it is; scripts/make-demo-pool.ts makes it). */
export const DEMO_ESMS_DIR = join(PACKAGE_ROOT, 'demo', 'esms');
export const DEMO_DATASETS_DIR = join(PACKAGE_ROOT, 'demo', 'datasets');
export const DEMO_POOL: DemoPool = { esms: DEMO_ESMS_DIR, datasets: DEMO_DATASETS_DIR };
/** A demo dataset's name, and its demo ESM's task_id: its path from the package root, which is also where the seeding puts it in the data dir. */
const DEMO_DATASETS_NAME = 'demo/datasets';

/**
 * Registers the demo sources' datasets, each copied into the data dir under its name (the task_id
 * of its ESM), so a ranked demo source resolves to its data (`findSourceDataset`) whether the name
 * is read from the data dir or from the package root. A dataset's fingerprint is its file's SHA-256.
 */
async function registerDemoDatasets(registry: Registry, datasets: string): Promise<number> {
  const files = (await readdir(datasets)).filter((f) => f.endsWith('.csv')).sort();
  for (const file of files) {
    const name = `${DEMO_DATASETS_NAME}/${file}`;
    const bytes = await readFile(join(datasets, file));
    const copy = registry.resolve(name);
    await mkdir(dirname(copy), { recursive: true });
    await writeFileAtomic(copy, bytes);
    const rows = bytes.toString('utf8').trimEnd().split('\n').length - 1;
    registerDataset(registry, {
      name,
      split: 'train',
      text_column: 'text',
      label_column: 'label',
      task_type: 'classification',
      num_rows: rows,
      fingerprint: sha256Hex(bytes),
    });
  }
  return files.length;
}

/**
 * Fills an empty registry with the demo pool (or another pool of the same layout, such as the
 * tests' tiny-bert one) and its datasets, so a first `npm start` ranks something and can fine-tune
 * on a ranked source. A registry holding any ESM is left alone; importing is idempotent anyway.
 */
export async function seedDemoPool(registry: Registry, pool: DemoPool = DEMO_POOL): Promise<(ImportSummary & { readonly datasets: number }) | null> {
  const esms = countEsms(registry);
  if (esms > 0) return null;
  const summary = await importEsmFolders(registry, [pool.esms]);
  return { ...summary, datasets: await registerDemoDatasets(registry, pool.datasets) };
}
