import { join } from 'node:path';
import { PACKAGE_ROOT } from '../config.js';
import type { Registry } from '../store/database.js';
import { importEsmFolders, type ImportSummary } from '../store/import.js';

/** The demo pool shipped with the package (demo/README.md says what it is; scripts/make-demo-pool.ts makes it). */
export const DEMO_ESMS_DIR = join(PACKAGE_ROOT, 'demo', 'esms');

/**
 * Fills an empty registry with the demo pool, so a first `npm start` ranks something. A registry
 * holding any ESM is left alone; importing is idempotent anyway.
 */
export async function seedDemoPool(registry: Registry): Promise<ImportSummary | null> {
  const esms = registry.db.prepare('SELECT count(*) FROM source_tasks').pluck().get() as number;
  if (esms > 0) return null;
  return importEsmFolders(registry, [DEMO_ESMS_DIR]);
}
