import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JobConflictError, JobError, JobNotFoundError, JobTimeLimitError, QueueFullError, RunnerClosingError } from '../../src/jobs/errors.js';
import { type JobRun, JobRunner, type JobType, type KindBounds } from '../../src/jobs/runner.js';
import { openRegistry, type Registry } from '../../src/store/database.js';
import type { JobKind } from '../../src/store/jobs.js';

/** The job runner on its own, without the HTTP service: its refusals are JobErrors, and failures are recorded as its caller describes them. */

const BOUNDS = (queued: number, runMs: number): KindBounds => ({ queued, runMs, settings: { queued: 'MAX_QUEUED', runMs: 'MAX_MINUTES' } });

/** A kind whose jobs wait until aborted (or, given `fail`, fail with it at once). */
function waitingType(kind: JobKind, fail?: Error): JobType {
  return {
    kind,
    noun: `${kind} job`,
    firstStage: 'waiting',
    run: ({ signal }: JobRun) =>
      new Promise((_, reject) => {
        if (fail) reject(fail);
        signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      }),
    details: () => ({}),
  };
}

let registry: Registry | undefined;
let runner: JobRunner | undefined;
afterEach(async () => {
  await runner?.close(0);
  registry?.close();
  runner = registry = undefined;
});

function start(options: { queued?: number; runMs?: number; fail?: Error }) {
  registry = openRegistry({ dataDir: mkdtempSync(join(tmpdir(), 'esmselect-runner-')) });
  const failures: { error: unknown; kind: JobKind }[] = [];
  const bounds = { ranking: BOUNDS(options.queued ?? 8, options.runMs ?? 60_000), finetune: BOUNDS(8, 60_000), pull: BOUNDS(8, 60_000) };
  runner = new JobRunner({
    registry,
    types: [waitingType('ranking', options.fail)],
    syncWaiting: 1,
    bounds,
    failure: (error, kind) => {
      failures.push({ error, kind });
      return { record: { said: error instanceof Error ? error.message : String(error) }, internal: false };
    },
    log: () => {},
  });
  runner.start();
  return { runner, failures };
}

async function until(condition: () => boolean): Promise<void> {
  for (let tries = 0; !condition(); tries++) {
    if (tries > 2000) throw new Error('never happened');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('JobRunner', () => {
  it('refuses with its own errors: an unknown job, cancelling one that has ended, a full queue (with a retry-after), a runner shutting down', async () => {
    const { runner } = start({ queued: 1 });
    expect(() => runner.get('nope', 'ranking')).toThrow(JobNotFoundError);
    const running = await runner.submit('ranking', {}, async () => {});
    await until(() => runner.running === 1);
    await runner.submit('ranking', {}, async () => {});
    let full: unknown;
    try {
      runner.checkRoom('ranking');
    } catch (error) {
      full = error;
    }
    expect(full).toBeInstanceOf(QueueFullError);
    expect((full as QueueFullError).retryAfterSeconds).toBe(60);
    expect((full as QueueFullError).message).toBe('the ranking job queue is full (1 waiting, MAX_QUEUED); try again in 60 s');
    await expect(runner.submit('ranking', {}, async () => {})).rejects.toBeInstanceOf(QueueFullError);

    expect((await runner.cancel(running.id, 'ranking')).status).toBe('cancelled');
    const again = await runner.cancel(running.id, 'ranking').catch((error: unknown) => error);
    expect(again).toBeInstanceOf(JobConflictError);
    expect(again).toMatchObject({ field: 'id', message: `id: ranking job ${running.id} has already been cancelled` });

    await runner.close(0);
    const closing = await runner.create('ranking', {}, async () => {}).catch((error: unknown) => error);
    expect(closing).toBeInstanceOf(RunnerClosingError);
    expect((closing as RunnerClosingError).retryAfterSeconds).toBe(5);
    for (const error of [full, again, closing]) expect(error).toBeInstanceOf(JobError);
  });

  it('records a failure as its caller describes it: the job error, or a JobTimeLimitError past the time limit', async () => {
    const broken = start({ fail: new Error('broken input') });
    const failed = await broken.runner.submit('ranking', {}, async () => {});
    await until(() => broken.runner.get(failed.id, 'ranking').state === 'failed');
    expect(broken.failures.map(({ error, kind }) => [(error as Error).message, kind])).toEqual([['broken input', 'ranking']]);
    expect(broken.runner.view(broken.runner.get(failed.id, 'ranking')).error).toEqual({ said: 'broken input' });
    await broken.runner.close(0);
    registry!.close();

    const slow = start({ runMs: 20 });
    const timed = await slow.runner.submit('ranking', {}, async () => {});
    await until(() => slow.runner.get(timed.id, 'ranking').state === 'failed');
    const [{ error }] = slow.failures;
    expect(error).toBeInstanceOf(JobTimeLimitError);
    expect((error as Error).message).toBe("the ranking job ran past the server's limit of 0 s (MAX_MINUTES) and was stopped");
  });
});
