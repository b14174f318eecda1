import { InvalidArgumentError } from 'commander';
import { UserInputError } from '../errors.js';

/** Exit status for input the user can fix; 1 stays for everything unexpected. */
export const EXIT_USAGE = 2;

/**
 * Reports an error as one line on stderr and sets the exit status. Only unexpected errors get a
 * stack, and only with ESMSELECT_DEBUG=1.
 */
export function reportError(error: unknown): void {
  if (error instanceof UserInputError) {
    process.stderr.write(`esmselect: ${error.message}\n`);
    process.exitCode = EXIT_USAGE;
    return;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`esmselect: internal error: ${message.split('\n')[0]}${process.env.ESMSELECT_DEBUG ? '' : ' (ESMSELECT_DEBUG=1 shows the stack)'}\n`);
  if (process.env.ESMSELECT_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  process.exitCode = 1;
}

/** Commander argument parser for positive integers; commander names the option in its message. */
export function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}
