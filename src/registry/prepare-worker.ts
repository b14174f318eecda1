/** A worker thread of `createPreparer`'s pool: `prepareEsm` on the task it is given, its result's buffers moved back. */
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { type Prepared, type PrepareTask, preparedBuffers, prepareEsm } from './prepare.js';

/** Typed as what the pool's caller receives: piscina unwraps the moved value. */
export default function prepare(task: PrepareTask): Prepared {
  const prepared = prepareEsm(task);
  return move({ [transferableSymbol]: preparedBuffers(prepared), [valueSymbol]: prepared }) as unknown as Prepared;
}
