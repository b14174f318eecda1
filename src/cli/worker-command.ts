import { Command } from 'commander';
import { startBatchWorker, type WorkerEvent } from '../batch/worker.js';
import { openRegistry, type Registry } from '../store/database.js';
import { positiveInteger } from './errors.js';

interface WorkerFlags {
  queue: string;
  name?: string;
  lockDuration: number;
  stalledInterval: number;
}

function describe(event: WorkerEvent): string {
  switch (event.type) {
    case 'started':
      return `job ${event.jobId} started: target ${event.target}, shard ${event.shard} (${event.esms} ESMs)${event.attempt > 1 ? `, attempt ${event.attempt}` : ''}`;
    case 'done':
      return `job ${event.jobId} done in ${event.seconds.toFixed(2)} s: ${event.scored} scored, ${event.rejected} rejected`;
    case 'failed':
      return `job ${event.jobId} failed: ${event.reason}`;
    case 'error':
      return `error: ${event.reason}`;
  }
}

/** `esmselect worker`: computes the (target, shard) jobs of distributed batches until SIGINT/SIGTERM. */
export function workerCommand(): Command {
  return new Command('worker')
    .description('compute batch-rank jobs from a BullMQ queue (start any number, on any machine that sees the ESMs)')
    .requiredOption('--queue <url>', 'redis://HOST:PORT, as given to batch-rank --queue')
    .option('--name <name>', 'how this worker appears in logs and job records (default: host:pid)')
    .option('--lock-duration <ms>', "how long a job's lock lasts unrenewed: a dead worker's job is taken over after about this long", positiveInteger, 60_000)
    .option('--stalled-interval <ms>', 'how often to look for jobs whose worker died', positiveInteger, 30_000)
    .action(async (flags: WorkerFlags) => {
      const log = (line: string) => process.stderr.write(`esmselect worker: ${line}\n`);
      let registry: Registry | undefined;
      const worker = await startBatchWorker({
        url: flags.queue,
        name: flags.name,
        lockDuration: flags.lockDuration,
        stalledInterval: flags.stalledInterval,
        registry: () => (registry ??= openRegistry()),
        onEvent: (event) => log(describe(event)),
      });
      log(`${worker.name} waiting for jobs on ${flags.queue}`);
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) process.exit(130);
        stopping = true;
        log(`${signal}: finishing the job in hand, then stopping`);
        worker.close().then(
          () => {
            registry?.close();
            process.exit(0);
          },
          (error: Error) => {
            log(`shutdown failed: ${error.message}`);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
}
