import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';

/** The Redis tests run against a real redis-server (Debian's package; `.ci/run` installs it). */
export const SKIP_REDIS = process.env.ESMSELECT_SKIP_REDIS === '1';

export function redisServerInstalled(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export const REDIS_MISSING =
  'redis-server is not installed: apt-get install -y redis-server (as .ci/run does), or set ESMSELECT_SKIP_REDIS=1 to skip the Redis tests';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface RunningRedis {
  readonly url: string;
  stop(): Promise<void>;
}

/** A throwaway redis-server on a free loopback port, in memory only (no RDB, no AOF). */
export async function startRedis(): Promise<RunningRedis> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s:\n${output}`)), 10_000);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code}):\n${output}`));
    });
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
