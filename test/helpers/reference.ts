import { fileURLToPath } from 'node:url';

/** Golden cases copied from the reference harness (../shared/reference) so CI needs nothing outside the repo. */
export const referenceDir = fileURLToPath(new URL('../fixtures/reference/', import.meta.url));
