import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { UserInputError } from '../errors.js';
import { type Pooling, poolingFor } from './pooling.js';

/**
 * A model name is a folder under the models root, `name` or `organisation/name` as on the Hugging
 * Face Hub. Names reach here from HTTP requests, so anything that could leave the root (absolute
 * paths, `.` and `..`, backslashes, empty segments) is refused: every segment starts with a letter or digit.
 */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)?$/;

export function modelFolder(name: string, root: string): string {
  if (!MODEL_NAME.test(name)) {
    throw new UserInputError(`model: "${name}" is not a model name (a folder under the models directory: letters, digits, "._-", at most one "/")`, 'model');
  }
  const folder = resolve(root, name);
  if (!folder.startsWith(resolve(root) + sep)) throw new UserInputError(`model: "${name}" leaves the models directory`, 'model');
  return folder;
}

/** The files transformers.js needs to run a model offline. */
export const REQUIRED_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', join('onnx', 'model.onnx')] as const;

/** Refuses, with the missing file named, a local folder that transformers.js could not load offline. */
export async function checkModelFolder(name: string, folder: string): Promise<void> {
  for (const file of REQUIRED_FILES) {
    if (!(await stat(join(folder, file)).catch(() => null))) {
      throw new UserInputError(
        `model: ${name}: ${join(folder, file)} is missing (a model folder needs ${REQUIRED_FILES.join(', ')}; esmselect model pull ${name} fetches one from the Hugging Face Hub, or ESMSELECT_ALLOW_REMOTE=1 lets the embedder download it; see the README, "Base models")`,
        'model',
      );
    }
  }
}

/** How embeddings were made; stored beside them so they are never mixed with another model's. */
export interface EmbeddingMeta {
  readonly model: string;
  readonly pooling: Pooling;
  readonly max_length: number;
  readonly dim: number;
}

/**
 * What a model folder's embeddings will be, from config.json alone (no weights loaded): the pooling
 * by hfselect's rule (unless `pooling` overrides it) and the hidden size. hfselect mean-pools models
 * named like `sentence-transformers/…`; a local folder shows it with sentence-transformers' modules.json.
 */
export async function describeModel(name: string, folder: string, maxLength: number, pooling?: Pooling): Promise<EmbeddingMeta> {
  const path = join(folder, 'config.json');
  let config: { model_type?: unknown; hidden_size?: unknown; dim?: unknown };
  try {
    config = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new UserInputError(`model: ${name}: ${path} ${error instanceof SyntaxError ? 'is not valid JSON' : 'cannot be read'}`, 'model');
  }
  const modules = await stat(join(folder, 'modules.json')).catch(() => null);
  const chosen =
    pooling ??
    poolingFor(name, {
      modelType: typeof config.model_type === 'string' ? config.model_type : 'unknown',
      sentenceTransformers: modules !== null || name.includes('sentence-transformers'),
    });
  // BERT and RoBERTa call the width hidden_size, DistilBERT dim.
  const dim = config.hidden_size ?? config.dim;
  if (!Number.isSafeInteger(dim) || (dim as number) <= 0) throw new UserInputError(`model: ${name}: ${path} gives no hidden_size (or dim)`, 'model');
  return { model: name, pooling: chosen, max_length: maxLength, dim: dim as number };
}

/** A model folder found under the models root, as the HTTP service lists it. */
export interface LocalModel {
  readonly name: string;
  /** Pooling and width as `describeModel` reads them; absent when `problem` says why they cannot be. */
  readonly pooling?: Pooling;
  readonly dim?: number;
  /** Every file transformers.js needs offline is there. */
  readonly ready: boolean;
  readonly problem?: string;
}

/** A UserInputError about a model, said without the server's path to it; anything else is rethrown. */
function modelProblem(error: unknown, name: string, folder: string): string {
  if (!(error instanceof UserInputError)) throw error;
  return error.message.replace(`model: ${name}: `, '').replaceAll(folder, name);
}

async function describeLocal(name: string, folder: string): Promise<LocalModel> {
  let meta: EmbeddingMeta;
  try {
    meta = await describeModel(name, folder, 0);
  } catch (error) {
    return { name, ready: false, problem: modelProblem(error, name, folder) };
  }
  const { pooling, dim } = meta;
  try {
    await checkModelFolder(name, folder);
  } catch (error) {
    return { name, pooling, dim, ready: false, problem: modelProblem(error, name, folder) };
  }
  return { name, pooling, dim, ready: true };
}

/** The model folders under `root` (`name/config.json` or `org/name/config.json`), sorted by name. */
export async function listModels(root: string): Promise<LocalModel[]> {
  const subdirectories = async (dir: string) =>
    (await readdir(dir, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  const names: string[] = [];
  for (const top of await subdirectories(root)) {
    if (await stat(join(root, top, 'config.json')).catch(() => null)) names.push(top);
    else
      for (const inner of await subdirectories(join(root, top)))
        if (await stat(join(root, top, inner, 'config.json')).catch(() => null)) names.push(`${top}/${inner}`);
  }
  names.sort();
  return Promise.all(names.filter((name) => MODEL_NAME.test(name)).map((name) => describeLocal(name, join(root, name))));
}
