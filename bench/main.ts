/**
 * `npm run bench [name] [args…]`: benchmarks that print figures as ratios to a reference measured
 * in the same run (run from source by tsx; they are not part of the published dist/). Without a name it runs the scoring benchmark (`--pool DIR…`, esmselect against the
 * reference harness); a name picks another one.
 */
import { reportError } from '../src/cli/errors.js';
import { finetuneBenchmark } from './finetune.js';
import { finetuneServiceBenchmark } from './finetune-service.js';
import { hubPullBenchmark } from './hub-pull.js';
import { registryBenchmark } from './registry.js';
import { scoringBenchmark } from './scoring.js';
import { twoStageBenchmark } from './two-stage.js';

const named: Record<string, (args: readonly string[]) => Promise<void>> = {
  registry: registryBenchmark,
  'two-stage': twoStageBenchmark,
  'hub-pull': hubPullBenchmark,
  finetune: finetuneBenchmark,
  'finetune-service': finetuneServiceBenchmark,
};

const [first, ...rest] = process.argv.slice(2);
try {
  if (first !== undefined && first in named) await named[first](rest);
  else await scoringBenchmark(process.argv.slice(2));
} catch (error) {
  reportError(error);
}
