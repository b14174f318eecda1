import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EmbeddingSpaceMap } from '../../src/esm/esm.js';
import { esmFromFiles, esmWeightsFile, esmWeightsHeader } from '../../src/esm/hfselect.js';
import { serializeSafetensors } from '../../src/io/safetensors.js';
import { type PreparedEsm, preparedMap, prepareEsm } from '../../src/registry/prepare.js';
import { esmConfig, randomEsm } from '../helpers/pool.js';

/** What a pull does with a downloaded ESM before the registry sees it. */
const referencePool = join(import.meta.dirname, '..', 'fixtures', 'reference', 'esm-logme', 'small-pool', 'esms');

describe('prepareEsm', () => {
  it('reads a file in the layout hfselect publishes in place, with the result the general path gives any layout', async () => {
    const esm = randomEsm('org/task', 12, 5);
    const configText = JSON.stringify(esm.config);
    const canonical = esmWeightsFile(esm);
    expect(Buffer.from(canonical.subarray(0, esmWeightsHeader(12).byteLength))).toEqual(Buffer.from(esmWeightsHeader(12)));
    // The same tensors, weight first and without metadata: another file, the same ESM.
    const other = serializeSafetensors({
      'model.weight': { dtype: 'F32', shape: [12, 12], data: esm.weight },
      'model.bias': { dtype: 'F32', shape: [12], data: esm.bias },
    });
    const inPlace = prepareEsm({ source: 'a', configText, weights: canonical }) as PreparedEsm;
    const general = prepareEsm({ source: 'b', configText, weights: other }) as PreparedEsm;
    expect(inPlace.weightsFile).toBe(canonical);
    expect(general.weightsFile).not.toBe(other);
    expect([inPlace.sha256, Array.from(inPlace.sketch.sketch), inPlace.config]).toEqual([general.sha256, Array.from(general.sketch.sketch), general.config]);
    expect(Buffer.from(general.weightsFile)).toEqual(Buffer.from(canonical));
    const map = preparedMap(inPlace);
    expect([Array.from(map.weight), Array.from(map.bias)]).toEqual([Array.from(esm.weight), Array.from(esm.bias)]);
  });

  it('finds the files the safetensors library wrote for hfselect in that layout', async () => {
    const folder = join(referencePool, 'synthetic__task-001');
    const weights = new Uint8Array(await readFile(join(folder, 'model.safetensors')));
    const prepared = prepareEsm({ source: 'x', configText: await readFile(join(folder, 'config.json'), 'utf8'), weights }) as PreparedEsm;
    expect(prepared.weightsFile).toBe(weights);
  });

  it('says what is wrong with a file as esmFromFiles does, NaN weights in the canonical layout included', () => {
    const config = esmConfig('org/nan', 4);
    const nan = new EmbeddingSpaceMap(config, new Float32Array(16).fill(Number.NaN), new Float32Array(4));
    const weights = esmWeightsFile(nan);
    const prepared = prepareEsm({ source: 'x', configText: JSON.stringify(config), weights });
    expect(prepared).toEqual({ problem: 'model.weight[0, 0] is not finite (NaN or infinite weights)' });
    expect(() => esmFromFiles('x', JSON.stringify(config), weights)).toThrow('model.weight[0, 0] is not finite');
    expect(prepareEsm({ source: 'x', configText: '{', weights })).toEqual({ problem: 'config.json is not valid JSON' });
  });
});
