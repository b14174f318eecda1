import { fileURLToPath } from 'node:url';

/** A committed tiny random-weight model folder (models/README.md). */
export function tinyModel(name: 'tiny-bert' | 'tiny-distilbert' | 'tiny-sentence-bert'): string {
  return fileURLToPath(new URL(`../../models/${name}`, import.meta.url));
}
