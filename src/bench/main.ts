/** `npm run bench <name> [args…]`: benchmarks that print figures as ratios to a reference measured in the same run. */
import { registryBenchmark } from './registry.js';

const benchmarks: Record<string, (args: readonly string[]) => Promise<void>> = {
  registry: registryBenchmark,
};

const [name, ...args] = process.argv.slice(2);
const run = name === undefined ? undefined : benchmarks[name];
if (!run) {
  process.stderr.write(`usage: npm run bench <${Object.keys(benchmarks).join('|')}> [args…]\n`);
  process.exitCode = 2;
} else {
  await run(args);
}
