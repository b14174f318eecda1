import { beforeAll, describe, expect, it } from 'vitest';
import { loadTensorflow } from '../../src/tf/backend.js';
import { checkClassifierGradients, TOLERANCE } from '../helpers/gradcheck.js';

beforeAll(async () => {
  await loadTensorflow();
});

describe('encoder gradients', () => {
  it('agree with central finite differences on entries across every kind of layer', async () => {
    const checks = await checkClassifierGradients();
    for (const check of checks) {
      expect(Math.abs(check.autodiff), check.name).toBeGreaterThan(1e-4);
      expect(check.relativeError, `${check.name}[${check.index}]: autodiff ${check.autodiff}, finite difference ${check.finiteDifference}`).toBeLessThan(
        TOLERANCE,
      );
    }
  });
});
