import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const MEASURE_MODES = ['preloaded', 'streamed'] as const;
export type MeasureMode = (typeof MEASURE_MODES)[number];

/** What one esmselect measurement (measure.ts) reports. */
export interface OurRun {
  readonly mode: MeasureMode;
  readonly scorer: string;
  readonly seconds: number;
  readonly scored: number;
  readonly maxRssMiB: number;
  readonly scores: Record<string, number>;
  readonly ranking: string[];
}

/** The reference harness's timings and results for one pool (anchor/score.py). */
export interface ReferenceRun {
  /** Reading the target and all ESMs, building the torch modules. */
  readonly secondsLoad: number;
  /** Applying the ESMs and LogME, after loading (numba's compile excluded). */
  readonly secondsTotal: number;
  readonly scored: number;
  readonly maxRssMiB: number | null;
  readonly scores: Record<string, number | null>;
  readonly ranking: string[];
}

function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv, echoStderr: boolean): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
      if (echoStderr) process.stderr.write(chunk);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code}: ${stderr.trim().split('\n').pop() ?? ''}`));
    });
  });
}

const MEASURE_SCRIPT = fileURLToPath(new URL('./measure.ts', import.meta.url));

/** Measures esmselect on the pool in a child process (its progress lines are passed through). */
export async function runOurs(pool: string, mode: MeasureMode, env: NodeJS.ProcessEnv = process.env): Promise<OurRun> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', MEASURE_SCRIPT, pool, mode], env, true);
  return JSON.parse(stdout) as OurRun;
}

const TIME = '/usr/bin/time';

/**
 * Runs the reference harness (`python anchor/score.py POOL`) with the machine's default threads, under
 * /usr/bin/time when present to read its peak RSS.
 */
export async function runReference(pool: string, anchorDir: string, python: string): Promise<ReferenceRun> {
  const script = join(anchorDir, 'score.py');
  const withTime = existsSync(TIME);
  const { stdout, stderr } = withTime
    ? await run(TIME, ['-f', 'esmselect-bench-maxrss-kb=%M', python, script, pool], process.env, false)
    : await run(python, [script, pool], process.env, false);
  const out = JSON.parse(stdout) as {
    seconds_load: number;
    seconds_total: number;
    scores: Record<string, number | null>;
    ranking: string[];
  };
  const rss = /esmselect-bench-maxrss-kb=(\d+)/.exec(stderr);
  return {
    secondsLoad: out.seconds_load,
    secondsTotal: out.seconds_total,
    scored: out.ranking.length,
    maxRssMiB: rss ? Number(rss[1]) / 1024 : null,
    scores: out.scores,
    ranking: out.ranking,
  };
}
