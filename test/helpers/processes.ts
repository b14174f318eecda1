import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

export interface RunningChild {
  readonly child: ChildProcess;
  /** Every line written so far, stdout and stderr together. */
  readonly lines: string[];
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Resolves with the first line matching `pattern` (already written or to come). */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a TypeScript entry point (the CLI or a test script) from source, as its own process. */
export function spawnTs(entry: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): RunningChild {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stdout = '';
  child.stdout!.on('data', (chunk: string) => {
    stdout += chunk;
  });
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const onLine = (line: string) => {
    lines.push(line);
    for (const waiter of waiters.filter((w) => w.pattern.test(line))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(line);
    }
  };
  for (const stream of [child.stdout!, child.stderr!]) {
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      pending += chunk;
      const parts = pending.split('\n');
      pending = parts.pop()!;
      parts.forEach(onLine);
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    lines,
    stdout: () => stdout,
    exited,
    waitForLine(pattern, timeoutMs = 30_000) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const fail = (why: string) => {
          clearTimeout(timer);
          reject(new Error(`${why} before a line matching ${pattern}; output:\n${lines.join('\n')}`));
        };
        const timer = setTimeout(() => fail(`${timeoutMs} ms passed`), timeoutMs);
        waiters.push({
          pattern,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
        // Lines still in the pipe when the process ends arrive before 'close'.
        child.on('close', () => fail('the process ended'));
      });
    },
  };
}

/** SIGKILL: no exit handlers, no flushing, no finally blocks; what a power cut does to a process. */
export async function kill(running: RunningChild): Promise<void> {
  running.child.kill('SIGKILL');
  const { signal } = await running.exited;
  if (signal !== 'SIGKILL') throw new Error(`the child ended on its own (${signal ?? 'exit'}) before it could be killed`);
}
