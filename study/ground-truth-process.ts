/**
 * A worker process of the study's ground truth (study/ground-truth.ts forks it): told the work
 * once over IPC, it answers `ready`, then runs each job it is sent and answers with its result, until
 * the parent disconnects. One process per core runs the ground truth's hundreds of fine-tunes side by side.
 */
import { loadTensorflow } from '../src/tf/backend.js';
import { type PairAnswer, type PairRequest, PairRunner } from './ground-truth.js';

const send = (answer: PairAnswer) => {
  process.send!(answer);
};
let runner: Promise<PairRunner> | undefined;
let queue = Promise.resolve();

process.on('message', (request: PairRequest) => {
  if (request.type === 'work') {
    runner = loadTensorflow().then(() => PairRunner.load(request.work));
    queue = runner.then(() => send({ type: 'ready' }));
  } else {
    queue = queue.then(async () => {
      const run = await (await runner!).run(request.job);
      const usage = process.cpuUsage();
      send({ type: 'done', index: request.index, run, cpuSeconds: (usage.user + usage.system) / 1e6 });
    });
  }
  queue = queue.catch((error: unknown) => {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.send!({ type: 'failed', message } satisfies PairAnswer, () => process.exit(1));
  });
});
// The parent disconnects once it has every answer of this process (or gives up): nothing is left to do.
process.on('disconnect', () => process.exit(0));
