import { seededUniform, standardNormal } from '../../src/random.js';

/** Deterministic pseudo-random numbers for tests (mulberry32 + Box–Muller). */
export function randomGenerator(seed: number) {
  const uniform = seededUniform(seed);
  const normal = (): number => standardNormal(uniform);
  return {
    uniform,
    normal,
    normals: (count: number, scale = 1): Float32Array => Float32Array.from({ length: count }, () => normal() * scale),
    integer: (below: number): number => Math.floor(uniform() * below),
  };
}
