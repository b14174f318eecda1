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

/** A commander argument parser for numbers that `accept` takes; commander names the option in its message. */
function numberParser(accept: (n: number) => boolean, expected: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !accept(n)) throw new InvalidArgumentError(`expected ${expected}`);
    return n;
  };
}

export const positiveInteger = numberParser((n) => Number.isSafeInteger(n) && n > 0, 'a positive integer');
export const nonNegativeInteger = numberParser((n) => Number.isSafeInteger(n) && n >= 0, 'a non-negative integer');
export const positiveNumber = numberParser((n) => Number.isFinite(n) && n > 0, 'a positive number');
export const nonNegativeNumber = numberParser((n) => Number.isFinite(n) && n >= 0, 'a non-negative number');
export const fraction = numberParser((n) => n >= 0 && n < 1, 'a number from 0 up to (not including) 1');
