import { UserInputError } from '../../errors.js';
import type { RankingSpec } from '../../jobs/ranking.js';
import { type TaskOptions, tasksModule, type WorkerPool } from '../../jobs/worker-pool.js';
import type { Outcome, ParsedBody } from './body-tasks.js';
import type { BodyParser } from './handler.js';
import { HttpProblem } from './problem.js';
import type { AnyRouteSpec } from './route-spec.js';

/** The body tasks, run on the jobs' worker threads. */
const BODY_TASKS = tasksModule(import.meta.url, 'body-tasks');

/** A refusal of the input, thrown again on this side as the error it was on the worker's. */
function unwrap<T>(answer: Outcome<T>): T {
  if ('value' in answer) return answer.value;
  if ('problem' in answer) {
    const { kind, detail, field, headers } = answer.problem;
    throw new HttpProblem(kind, detail, field, headers);
  }
  throw new UserInputError(answer.userInput.message, answer.userInput.field);
}

/**
 * Request bodies parsed and validated on the worker threads (src/server/http/body-tasks.ts): the
 * bytes cross to a thread and back by transfer, never by copy, so a large body never stalls the
 * event loop.
 */
export class BodyThreads implements BodyParser {
  constructor(private readonly workers: WorkerPool) {}

  private async call<T>(name: string, task: object, options: TaskOptions): Promise<T> {
    return unwrap((await this.workers.run(BODY_TASKS, name, task, options)) as Outcome<T>);
  }

  /** A request body, parsed and validated with its route's schema (a 4xx problem when it fails); `bytes` is transferred. */
  async parseBody(route: AnyRouteSpec, type: 'json' | 'multipart', bytes: ArrayBuffer, contentType: string): Promise<unknown> {
    const { value, files } = await this.call<ParsedBody>('parseBody', { operationId: route.operationId, type, bytes, contentType }, { transferList: [bytes] });
    for (const [key, file] of Object.entries(files))
      (value as Record<string, unknown>)[key] = new File([new Uint8Array(file.bytes)], file.name, { type: file.type });
    return value;
  }

  /** A JSON ranking request validated and checked (see `checkInlineTarget`): its spec, and its bytes back; `bytes` is transferred. */
  checkInlineTarget(bytes: ArrayBuffer, inlineRows: number, dataDir: string): Promise<{ spec: RankingSpec; bytes: ArrayBuffer }> {
    return this.call('checkInlineTarget', { bytes, inlineRows, dataDir }, { transferList: [bytes] });
  }
}
