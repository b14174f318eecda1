/**
 * The fine-tune of one HTTP job, in a process of its own (src/jobs/finetune-job.ts forks it): told
 * its work once over IPC, it runs `runFinetune` and reports every event, the ESM it registered and
 * its end the same way. Training in its own process keeps the server's event loop free, lets a
 * cancel or a shutdown stop it at once, and a crash of the native backend cannot take the server
 * down; the job resumes from the job folder's job.json.
 */

import { UserInputError } from '../errors.js';
import type { EmbeddingSpaceMap } from '../esm/esm.js';
import { loadHfselectEsm } from '../esm/hfselect.js';
import type { EsmTrainingReport } from '../esm/train.js';
import { type FinetuneEvent, type FinetuneResult, runFinetune } from '../finetune/job.js';
import { registerEsm } from '../registry/esms.js';
import { openRegistry } from '../store/database.js';
import { type FinetuneRequest, readFinetuneTasks } from './finetune-request.js';

/** What the server tells the process. */
export interface FinetuneWork {
  readonly dataDir: string;
  readonly modelsDir: string;
  /** The job's input directory (its uploaded files). */
  readonly inputDir: string;
  /** The job folder: job.json, checkpoints, the ESM. */
  readonly outputDir: string;
  readonly request: FinetuneRequest;
}

/** What the process tells the server. */
export type FinetuneMessage =
  | { readonly type: 'event'; readonly event: FinetuneEvent }
  | { readonly type: 'esm'; readonly sourceId: number }
  | { readonly type: 'done'; readonly result: FinetuneResult; readonly esmSourceId: number }
  | { readonly type: 'failed'; readonly message: string; readonly field?: string; readonly userInput: boolean };

/** Runs the job; returns the message that ends it. */
async function finetune(work: FinetuneWork, send: (message: FinetuneMessage) => void): Promise<FinetuneMessage> {
  const { request } = work;
  // A connection of its own: the registry is made for several processes (WAL, busy timeout).
  const registry = openRegistry({ dataDir: work.dataDir });
  try {
    const register = async (esm: EmbeddingSpaceMap, training?: EsmTrainingReport) =>
      (await registerEsm(registry, esm, { origin: 'finetuned', training })).record.id;
    const tasks = await readFinetuneTasks(request, work.inputDir, registry);
    let esmSourceId: number | undefined;
    const result = await runFinetune(
      {
        model: request.model,
        modelsDir: work.modelsDir,
        ...tasks,
        intermediate: request.intermediate,
        targetStage: request.target_stage,
        outputDir: work.outputDir,
      },
      {
        onEvent: (event) => send({ type: 'event', event }),
        registerEsm: async (esm, training) => {
          esmSourceId = await register(esm, training);
          send({ type: 'esm', sourceId: esmSourceId });
        },
      },
    );
    // A resumed job's ESM was trained and registered by an earlier run: its identity finds it again
    // (and registers it anew if it was deleted since).
    esmSourceId ??= await register(await loadHfselectEsm(result.esm.folder));
    return { type: 'done', result, esmSourceId };
  } catch (error) {
    if (error instanceof UserInputError) return { type: 'failed', message: error.message, field: error.field, userInput: true };
    return { type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error), userInput: false };
  } finally {
    registry.close();
  }
}

// The server went away (it stopped, or stopped this job): so does the fine-tune, to be resumed later.
process.on('disconnect', () => process.exit(0));
process.once('message', (work: FinetuneWork) => {
  void finetune(work, (message) => process.send!(message)).then((end) => process.send!(end, () => process.disconnect()));
});
