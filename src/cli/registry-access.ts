import { UserInputError } from '../errors.js';
import { openRegistry, type Registry } from '../store/database.js';

/** Opens the registry for one command and closes it however the command ends. */
export async function withRegistry<T>(work: (registry: Registry) => Promise<T> | T): Promise<T> {
  const registry = openRegistry();
  try {
    return await work(registry);
  } finally {
    registry.close();
  }
}

export function registryId(value: string): number {
  const id = Number(value.replace(/^(registry)?#/, ''));
  if (!Number.isSafeInteger(id) || id <= 0) throw new UserInputError(`esm: "${value}" is not an ESM id (a positive integer, as esm list shows)`, 'esm');
  return id;
}
