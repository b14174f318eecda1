import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { parseSafetensors, SafetensorsError, safetensorsHeader, serializeSafetensors, toFloat32 } from '../io/safetensors.js';
import { type EsmConfig, LEGACY_VERSION, parseEsmConfig } from './config.js';
import { EmbeddingSpaceMap, firstNonFinite } from './esm.js';

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';

/** An ESM that cannot be used; `source` names the folder (or upload), `problem` says why. */
export class EsmFormatError extends Error {
  override readonly name = 'EsmFormatError';
  constructor(
    readonly source: string,
    readonly problem: string,
  ) {
    super(`${source}: ${problem}`);
  }
}

/**
 * Builds an ESM from the two files of an hfselect ESM folder, validated as hfselect's loader would
 * (`ESM.__init__`, `convert_legacy_to_new`) plus checks it skips: tensor shapes against
 * `esm_embedding_dim` and finite weights.
 */
export function esmFromFiles(source: string, configText: string, weightsFile: Uint8Array): EmbeddingSpaceMap {
  let raw: unknown;
  try {
    raw = JSON.parse(configText);
  } catch {
    throw new EsmFormatError(source, 'config.json is not valid JSON');
  }
  const parsed = parseEsmConfig(raw);
  if ('problem' in parsed) throw new EsmFormatError(source, parsed.problem);
  const { config } = parsed;

  let tensors: ReturnType<typeof parseSafetensors>['tensors'];
  try {
    tensors = parseSafetensors(weightsFile).tensors;
  } catch (error) {
    if (error instanceof SafetensorsError) throw new EsmFormatError(source, `${WEIGHTS_FILE}: ${error.message}`);
    throw error;
  }
  const prefix = config.version === LEGACY_VERSION ? 'sequential.0.' : 'model.';
  const dim = config.esm_embedding_dim;
  const read = (name: string, shape: number[]): Float32Array => {
    const tensor = tensors.get(prefix + name);
    if (!tensor) {
      const found = [...tensors.keys()].join(', ') || 'none';
      throw new EsmFormatError(source, `${WEIGHTS_FILE} has no tensor ${prefix + name} (version ${config.version ?? 'unset'}; found: ${found})`);
    }
    if (tensor.shape.length !== shape.length || tensor.shape.some((s, i) => s !== shape[i])) {
      throw new EsmFormatError(source, `${prefix + name} has shape [${tensor.shape.join(', ')}], expected [${shape.join(', ')}] from esm_embedding_dim`);
    }
    let values: Float32Array;
    try {
      values = toFloat32(tensor);
    } catch (error) {
      throw new EsmFormatError(source, `${prefix + name}: ${(error as Error).message}`);
    }
    const bad = firstNonFinite(values, shape[shape.length - 1]);
    if (bad) {
      const at = shape.length === 2 ? `[${bad.row}, ${bad.col}]` : `[${bad.col}]`;
      throw new EsmFormatError(source, `${prefix + name}${at} is not finite (NaN or infinite weights)`);
    }
    return values;
  };
  return new EmbeddingSpaceMap(config, read('weight', [dim, dim]), read('bias', [dim]));
}

export async function loadHfselectEsm(folder: string): Promise<EmbeddingSpaceMap> {
  const readOrExplain = async <T extends 'utf8' | undefined>(file: string, encoding: T) => {
    try {
      return (await readFile(join(folder, file), encoding)) as T extends 'utf8' ? string : Buffer;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new EsmFormatError(folder, code === 'ENOENT' ? `${file} is missing` : `${file} cannot be read (${code ?? (error as Error).message})`);
    }
  };
  const configText = await readOrExplain(CONFIG_FILE, 'utf8');
  const weights = await readOrExplain(WEIGHTS_FILE, undefined);
  return esmFromFiles(folder, configText, new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength));
}

function sortedKeys(config: EsmConfig): Record<string, unknown> {
  return Object.fromEntries(Object.entries(config).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** hfselect's version whose layout (`model.*` keys) the exporter writes. */
const CURRENT_VERSION = '0.2.0';

/**
 * The config.json text hfselect's `save_pretrained` writes (sorted keys). A legacy 0.1.0 ESM is
 * exported in the current layout, so its version becomes 0.2.0: keeping "0.1.0" would make hfselect
 * look for `sequential.0.*` tensors that the file no longer has.
 */
export function esmConfigJson(esm: EmbeddingSpaceMap): string {
  const config = { ...esm.config, version: esm.config.version === LEGACY_VERSION ? CURRENT_VERSION : esm.config.version };
  return `${JSON.stringify(sortedKeys(config), null, 2)}\n`;
}

const WEIGHTS_METADATA = { format: 'pt' } as const;

/**
 * model.safetensors bytes in the current (non-legacy) layout: F32 `model.bias` then `model.weight`,
 * metadata `format: pt`, as the safetensors library writes hfselect's ESMs (`save_pretrained`).
 */
export function esmWeightsFile(esm: EmbeddingSpaceMap): Uint8Array {
  return serializeSafetensors(
    {
      'model.bias': { dtype: 'F32', shape: [esm.dim], data: esm.bias },
      'model.weight': { dtype: 'F32', shape: [esm.dim, esm.dim], data: esm.weight },
    },
    WEIGHTS_METADATA,
  );
}

/** The header `esmWeightsFile` writes for an ESM of dimension `dim` (a file that starts so and is that long is in its layout). */
export function esmWeightsHeader(dim: number): Uint8Array {
  return safetensorsHeader({ 'model.bias': { dtype: 'F32', shape: [dim] }, 'model.weight': { dtype: 'F32', shape: [dim, dim] } }, WEIGHTS_METADATA);
}

/** Writes an hfselect-compatible ESM folder that `ESM.from_pretrained` can load. */
export async function saveHfselectEsm(esm: EmbeddingSpaceMap, folder: string): Promise<void> {
  await mkdir(folder, { recursive: true });
  await writeFileAtomic(join(folder, WEIGHTS_FILE), esmWeightsFile(esm));
  await writeFileAtomic(join(folder, CONFIG_FILE), esmConfigJson(esm));
}
