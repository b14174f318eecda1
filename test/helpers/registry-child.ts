/**
 * A process for the fault and concurrency tests to kill or race. Modes:
 *   import <poolDir>      imports the pool, printing `progress <done>/<total>` after each committed ESM
 *   stall <esmFolder>     writes an ESM's weights file as registerEsm does first, then waits to be killed
 * The registry is the one ESMSELECT_DATA_DIR names.
 */
import { esmWeightsFile, loadHfselectEsm } from '../../src/esm/hfselect.js';
import { importEsmFolders } from '../../src/registry/import.js';
import { openRegistry } from '../../src/store/database.js';
import { sha256Hex, storeFile, weightsPath } from '../../src/store/files.js';

const [mode, path] = process.argv.slice(2);
const registry = openRegistry();
if (mode === 'import') {
  const summary = await importEsmFolders(registry, [path], { onProgress: ({ done, total }) => process.stdout.write(`progress ${done}/${total}\n`) });
  process.stdout.write(`done ${JSON.stringify({ imported: summary.imported, skipped: summary.skipped, rejected: summary.rejected })}\n`);
  registry.close();
} else if (mode === 'stall') {
  const weights = esmWeightsFile(await loadHfselectEsm(path));
  const sha256 = sha256Hex(weights);
  await storeFile(registry.dataDir, weightsPath(sha256), weights, sha256);
  process.stdout.write(`stored ${weightsPath(sha256)}\n`);
  setInterval(() => {}, 1000);
} else {
  throw new Error(`unknown mode ${mode}`);
}
