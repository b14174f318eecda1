import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (package.json, models/, data/): this file sits one level below it in src/ and dist/. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Where the registry, caches and weights live: ESMSELECT_DATA_DIR, else data/ in the package root. */
export function dataDir(): string {
  return resolve(process.env.ESMSELECT_DATA_DIR ?? resolve(PACKAGE_ROOT, 'data'));
}

/** Where local base models live: ESMSELECT_MODELS_DIR, else models/ in the package root. */
export function modelsDir(): string {
  return resolve(process.env.ESMSELECT_MODELS_DIR ?? resolve(PACKAGE_ROOT, 'models'));
}
