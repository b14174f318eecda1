import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchRank } from '../../src/batch/batch.js';
import { writeEmbeddingFile } from '../../src/io/embedding-files.js';
import { typescriptScorer } from '../../src/rank/ranking.js';
import { openRegistry } from '../../src/store/database.js';
import { runCli } from '../helpers/cli.js';
import { readTree } from '../helpers/files.js';
import { writeJson, writeRandomPool } from '../helpers/pool.js';
import { kill, type RunningChild, spawnTs } from '../helpers/processes.js';
import { randomGenerator } from '../helpers/random.js';
import { REDIS_MISSING, type RunningRedis, redisServerInstalled, SKIP_REDIS, startRedis } from '../helpers/redis.js';

const CLI = 'src/cli/main.ts';

if (!SKIP_REDIS && !redisServerInstalled()) {
  describe('batch-rank --queue', () => {
    it('needs redis-server', () => {
      throw new Error(REDIS_MISSING);
    });
  });
}

describe.skipIf(SKIP_REDIS || !redisServerInstalled())('batch-rank --queue on BullMQ and a real redis-server', () => {
  let dir: string;
  let manifest: string;
  let redis: RunningRedis;
  const children: RunningChild[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'esmselect-redis-'));
    redis = await startRedis();
    // 3 targets × 3 shards of 150 ESMs at D = 64: 9 jobs of ~0.4 s each with the TypeScript scorer.
    await writeRandomPool(join(dir, 'pool'), 450, 64, 31);
    const rng = randomGenerator(32);
    const lines = ['targets:'];
    for (const name of ['north', 'south', 'west']) {
      await writeEmbeddingFile(join(dir, `${name}.npy`), { rows: 90, dim: 64, data: rng.normals(90 * 64) });
      await writeJson(
        join(dir, `${name}.json`),
        Array.from({ length: 90 }, (_, i) => i % (name === 'west' ? 2 : 3)),
      );
      lines.push(`  - name: ${name}`, `    embeddings: ${name}.npy`, `    labels: ${name}.json`);
    }
    manifest = join(dir, 'targets.yaml');
    await writeFile(manifest, `${lines.join('\n')}\n`);
  });
  afterAll(async () => {
    for (const child of children) if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const env = (data: string): NodeJS.ProcessEnv => ({ ESMSELECT_DATA_DIR: join(dir, data), ESMSELECT_SCORER: 'typescript' });

  function worker(name: string): RunningChild {
    // Short locks: a dead worker's job goes back to the queue within about two seconds.
    const child = spawnTs(CLI, ['worker', '--queue', redis.url, '--name', name, '--lock-duration', '1500', '--stalled-interval', '500'], env(`data-${name}`));
    children.push(child);
    return child;
  }

  const batchArgs = (out: string, ...extra: string[]) => [
    'batch-rank',
    '--targets',
    manifest,
    '--esms',
    join(dir, 'pool'),
    '--out',
    join(dir, out),
    '--shard-size',
    '150',
    '--queue',
    redis.url,
    ...extra,
  ];

  it('two workers share a batch; one killed mid-job loses its job to the other; the rankings equal the single-machine run byte for byte', async () => {
    const registry = openRegistry({ dataDir: join(dir, 'data-local') });
    try {
      await batchRank({
        targets: manifest,
        esms: { folders: [join(dir, 'pool')] },
        out: join(dir, 'out-local'),
        registry,
        scorer: typescriptScorer,
        shardSize: 150,
      });
    } finally {
      registry.close();
    }

    const [a, b] = [worker('worker-a'), worker('worker-b')];
    await a.waitForLine(/worker-a waiting for jobs/);
    await b.waitForLine(/worker-b waiting for jobs/);
    const coordinator = spawnTs(CLI, batchArgs('out-queue'), env('data-coordinator'));
    children.push(coordinator);
    await coordinator.waitForLine(/queued 9 jobs on redis:\/\/127\.0\.0\.1:\d+ \(9 to collect\)/);

    const started = await a.waitForLine(/job \S+ started/);
    const jobId = /job (\S+) started/.exec(started)![1];
    await kill(a);

    const { code } = await coordinator.exited;
    const log = coordinator.lines.join('\n');
    expect(code, log).toBe(0);
    expect(log).toContain('computed 9 of 9 units');
    // The killed worker never finished its job; the other took it over (BullMQ's stalled-job check) and did.
    expect(a.lines.join('\n')).not.toContain(`job ${jobId} done`);
    expect(b.lines.join('\n')).toMatch(new RegExp(`job ${jobId} started: .*, attempt 2`));
    expect(b.lines.join('\n')).toContain(`job ${jobId} done`);

    const local = await readTree(join(dir, 'out-local'));
    expect(local.size).toBe(3 * 3 + 4);
    expect(await readTree(join(dir, 'out-queue'))).toEqual(local);

    // Without checkpoints and without workers, a coordinator started again collects the finished jobs
    // from Redis: nothing is computed twice, and the outputs are the same bytes.
    b.child.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
    const again = runCli(batchArgs('out-queue', '--restart'), env('data-coordinator'));
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toContain('queued 0 jobs');
    expect(await readTree(join(dir, 'out-queue'))).toEqual(local);
  });

  it('says so in one line when no redis-server answers', async () => {
    const run = runCli(
      ['batch-rank', '--targets', manifest, '--esms', join(dir, 'pool'), '--out', join(dir, 'out-none'), '--queue', 'redis://127.0.0.1:1'],
      env('data-none'),
    );
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n').at(-1)).toMatch(
      /^esmselect: --queue: cannot reach redis:\/\/127\.0\.0\.1:1 \(connect ECONNREFUSED 127\.0\.0\.1:1\); is redis-server running there\?$/,
    );
  });
});
