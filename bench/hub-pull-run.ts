/**
 * One way of pulling the bench pool, in a process of its own so that its peak RSS is its own:
 * `node --import tsx bench/hub-pull-run.ts esmselect|hfselect ENDPOINT DATA_DIR CONCURRENCY`. Prints one JSON line.
 *
 * - esmselect: `pullEsms` (listing, then CONCURRENCY repos at a time, each file checked against the
 *   Hub's announced sha256, registered with provenance).
 * - hfselect: the loop of hfselect's `fetch_esms` over `find_esm_repo_ids`: one repo after another,
 *   each file with `hf_hub_download`'s two requests (file info, then the file: the client's
 *   `downloadFile`), then registered through the same import path; no concurrency, no hash check.
 */
import { downloadFile } from '@huggingface/hub';
import { CONFIG_FILE, esmFromFiles, WEIGHTS_FILE } from '../src/esm/hfselect.js';
import { hubClient } from '../src/hub/client.js';
import { hubConfig } from '../src/hub/config.js';
import { findEsmRepos } from '../src/hub/esm-repos.js';
import { registerEsm } from '../src/registry/esms.js';
import { pullEsms } from '../src/registry/pull.js';
import { openRegistry, type Registry } from '../src/store/database.js';

export const BENCH_BASE_MODEL = 'bench/encoder';
export const WAYS = ['hfselect', 'esmselect'] as const;
export type Way = (typeof WAYS)[number];

export interface WayRun {
  readonly way: Way;
  readonly seconds: number;
  readonly registered: number;
  readonly failed: number;
  readonly maxRssMiB: number;
  /** CPU time of the process, all its threads, user + system. */
  readonly cpuSeconds: number;
}

async function hfselectWay(registry: Registry, endpoint: string): Promise<{ registered: number; failed: number }> {
  const hub = hubClient('bench', hubConfig({ HF_ENDPOINT: endpoint }));
  const { repos } = await findEsmRepos(hub, { baseModel: BENCH_BASE_MODEL });
  let registered = 0;
  let failed = 0;
  for (const repo of repos) {
    try {
      const config = await (await downloadFile({ ...hub.params, repo: repo.id, path: CONFIG_FILE }))!.text();
      const weights = new Uint8Array(await (await downloadFile({ ...hub.params, repo: repo.id, path: WEIGHTS_FILE }))!.arrayBuffer());
      await registerEsm(registry, esmFromFiles(repo.id, config, weights), { origin: `hf://${repo.id}` });
      registered++;
    } catch {
      // fetch_esms skips what fails, counting it.
      failed++;
    }
  }
  return { registered, failed };
}

async function esmselectWay(registry: Registry, endpoint: string, concurrency: number): Promise<{ registered: number; failed: number }> {
  const summary = await pullEsms(registry, { baseModel: BENCH_BASE_MODEL, concurrency, hub: hubConfig({ HF_ENDPOINT: endpoint }) });
  return { registered: summary.imported + summary.skipped, failed: summary.rejected + summary.failed };
}

const [way, endpoint, dataDir, concurrency] = process.argv.slice(2);
if (!(WAYS as readonly string[]).includes(way) || !endpoint || !dataDir) {
  process.stderr.write(`usage: hub-pull-run.js ${WAYS.join('|')} ENDPOINT DATA_DIR CONCURRENCY\n`);
  process.exit(2);
}
const registry = openRegistry({ dataDir });
const started = performance.now();
const counts = way === 'hfselect' ? await hfselectWay(registry, endpoint) : await esmselectWay(registry, endpoint, Number(concurrency));
const seconds = (performance.now() - started) / 1000;
registry.close();
const usage = process.resourceUsage();
const run: WayRun = { way: way as Way, seconds, ...counts, maxRssMiB: usage.maxRSS / 1024, cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6 };
process.stdout.write(`${JSON.stringify(run)}\n`);
