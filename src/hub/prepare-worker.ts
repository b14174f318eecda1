/** A worker thread of `createPreparer`'s pool: `prepareEsm` on the task it is given. */
import { prepareEsm, type Prepared, type PrepareTask } from './prepare.js';

export default function prepare(task: PrepareTask): Prepared {
  return prepareEsm(task);
}
