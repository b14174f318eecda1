/**
 * The Hub stand-in as a process of its own, for benchmarks: `node --import tsx
 * test/helpers/hub/standin-process.ts COUNT DIM LATENCY_MS` publishes COUNT ESMs of dimension DIM
 * for the base model `bench/encoder` (owner `bench`), adds LATENCY_MS to every request, prints one
 * JSON line `{"endpoint": …, "repos": COUNT}` once it serves, and stops when its stdin closes.
 * Out of the measuring process, its work (serving, hashing) is not charged to the client measured.
 */
import { publishEsmPool } from './seed.js';
import { startHubStandin } from './standin.js';

const [count, dim, latencyMs] = process.argv.slice(2).map(Number);
if (![count, dim, latencyMs].every((n) => Number.isSafeInteger(n) && n >= 0) || count === 0 || dim === 0) {
  process.stderr.write('usage: standin-process.ts COUNT DIM LATENCY_MS\n');
  process.exit(2);
}
const hub = await startHubStandin();
hub.store.create('model', 'bench/encoder');
publishEsmPool(hub, { count, dim, baseModel: 'bench/encoder', owner: 'bench' });
hub.options.latencyMs = latencyMs;
process.stdout.write(`${JSON.stringify({ endpoint: hub.endpoint, repos: count })}\n`);
process.stdin.resume();
process.stdin.on('end', async () => {
  await hub.close();
  process.exit(0);
});
