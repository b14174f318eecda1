/**
 * `npm run loadtest`: 50 concurrent ranking requests against a server on the loopback interface,
 * bounded in count and time, stopping by itself. The target (demo/target.csv as inline texts) is
 * ranked once first, so the load measures rankings on a cached dataset: embedding-cache lookup,
 * ESM-LogME over the demo pool, and the job's bookkeeping in the registry.
 *
 * Options (environment): LOADTEST_CONNECTIONS (50), LOADTEST_REQUESTS (1000), LOADTEST_SECONDS (60).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { PACKAGE_ROOT } from '../src/config.js';
import { startServer } from '../src/server/serve.js';

const connections = Number(process.env.LOADTEST_CONNECTIONS ?? 50);
const amount = Number(process.env.LOADTEST_REQUESTS ?? 1000);
const seconds = Number(process.env.LOADTEST_SECONDS ?? 60);

const rows = readFileSync(join(PACKAGE_ROOT, 'demo', 'target.csv'), 'utf8')
  .trim()
  .split('\n')
  .slice(1);
const body = JSON.stringify({
  texts: rows.map((r) => r.slice(0, r.lastIndexOf(','))),
  labels: rows.map((r) => r.slice(r.lastIndexOf(',') + 1)),
  model: 'wordnet-bert',
  top: 5,
});

const dataDir = mkdtempSync(join(tmpdir(), 'esmselect-loadtest-'));
const server = await startServer({ dataDir, host: '127.0.0.1', port: 0, log: () => {} });
try {
  const headers = { 'content-type': 'application/json' };
  const warm = await fetch(`${server.url}/v1/rankings`, { method: 'POST', headers, body });
  if (warm.status !== 200) throw new Error(`warm-up ranking answered ${warm.status}: ${await warm.text()}`);
  const result = await autocannon({
    url: `${server.url}/v1/rankings`,
    method: 'POST',
    headers,
    body,
    connections,
    amount,
    duration: seconds,
    timeout: seconds,
  });
  const failed = result.errors + result.timeouts + result.non2xx;
  process.stdout.write(
    [
      `${result.requests.total} ranking requests, ${connections} concurrent, on a cached dataset (${rows.length} texts, wordnet-bert, the demo pool)`,
      `latency p50 ${result.latency.p50} ms, p90 ${result.latency.p90} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms`,
      `throughput ${result.requests.average} requests/s; non-2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts}`,
      '',
    ].join('\n'),
  );
  if (failed > 0) process.exitCode = 1;
} finally {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
}
