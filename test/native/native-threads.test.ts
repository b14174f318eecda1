import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadNativeAddon, NATIVE_ADDON_PATH } from '../../src/native/addon.js';

/**
 * A worker thread may be terminated while the addon computes for it (a server shutting down, a
 * pool abandoning a thread). When the computation comes back, its thread's JavaScript is gone: the
 * addon must drop the result, not end the process (`terminate called after throwing an instance
 * of 'Napi::Error'`, which a build without NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS does at once).
 */
const SCRIPT = `
const { Worker } = require('node:worker_threads');
const code = \`
  const addon = require(\${JSON.stringify(process.argv[1])});
  const { parentPort } = require('node:worker_threads');
  const n = 2000, d = 512;
  const x = new Float32Array(n * d).map(() => Math.random());
  const y = new Float64Array(n).map(() => Math.random());
  parentPort.postMessage('computing');
  (async () => { for (;;) await addon.factorTarget(x, n, d, [y]); })();
\`;
(async () => {
  for (let round = 0; round < 12; round++) {
    const worker = new Worker(code, { eval: true });
    await new Promise((resolve) => worker.once('message', resolve));
    await new Promise((resolve) => setTimeout(resolve, 20 + round * 25));
    await worker.terminate();
  }
  process.stdout.write('survived');
})();
`;

describe.runIf('addon' in loadNativeAddon())('the native addon on worker threads', () => {
  it('lets a thread be terminated mid-computation without ending the process', { timeout: 120_000 }, () => {
    const run = spawnSync(process.execPath, ['-e', SCRIPT, NATIVE_ADDON_PATH], { encoding: 'utf8' });
    expect(run.stderr).not.toContain('terminate called');
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toBe('survived');
  });
});
