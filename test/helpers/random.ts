import { seededUniform } from '../../src/random.js';

/** Deterministic pseudo-random numbers for tests (mulberry32 + Box–Muller). */
export function randomGenerator(seed: number) {
  const uniform = seededUniform(seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return {
    uniform,
    normal,
    normals: (count: number, scale = 1): Float32Array => Float32Array.from({ length: count }, () => normal() * scale),
    integer: (below: number): number => Math.floor(uniform() * below),
  };
}
