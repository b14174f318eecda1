/**
 * ESMSELECT_ALLOW_NO_NATIVE=1 lets the suite pass without the C++ addon, on a machine that cannot
 * build it (README, "Native scorer"); its checks are then skipped. Without it a missing or
 * unloadable addon fails the run (test/rank/fast-path.test.ts), as on CI, which has a compiler.
 */
export const ALLOW_NO_NATIVE = process.env.ESMSELECT_ALLOW_NO_NATIVE === '1';
