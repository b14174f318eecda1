import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The committed models directory with the tiny random-weight fixtures (models/README.md). */
export const MODELS_ROOT = fileURLToPath(new URL('../../models/', import.meta.url));

export type TinyModel = 'tiny-bert' | 'tiny-distilbert' | 'tiny-sentence-bert';

/** A tiny model's folder. */
export function tinyModel(name: TinyModel): string {
  return join(MODELS_ROOT, name);
}
