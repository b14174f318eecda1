import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatasetOptions } from '../../dataset/text-dataset.js';
import { type LocalModel, listModels, modelFolder } from '../../embed/model-folder.js';
import { UserInputError } from '../../errors.js';
import { CONFIG_FILE, WEIGHTS_FILE } from '../../finetune/checkpoint.js';
import { parseEncoderConfig } from '../../finetune/model-config.js';
import { TABLE_FORMATS, type TableFormat, tableFormatOf } from '../../io/tables.js';
import { JOBS_DIR } from '../../jobs/runner.js';
import type { ServerContext } from '../context.js';
import { HttpProblem } from '../http/problem.js';

/** A model of the models directory by name, without naming server paths; refused (field `model`) when there is none. */
async function findModel(ctx: ServerContext, name: string): Promise<LocalModel> {
  modelFolder(name, ctx.modelsDir);
  const found = (await listModels(ctx.modelsDir)).find((m) => m.name === name);
  if (!found) throw new HttpProblem('invalid-input', `model: there is no model "${name}" (GET /v1/models lists the models there are)`, 'model');
  return found;
}

/** Refuses a model that cannot embed: not a folder under the models root, or without the files transformers.js needs. */
export async function checkModel(ctx: ServerContext, name: string): Promise<void> {
  const found = await findModel(ctx, name);
  if (!found.ready) throw new HttpProblem('invalid-input', `model: ${name} cannot be used: ${found.problem}`, 'model');
}

/**
 * Refuses a model the fine-tuning runner cannot train: it needs a BERT or DistilBERT config.json,
 * the weights as model.safetensors and the tokenizer (the ONNX export is for embedding only).
 */
export async function checkFinetuneModel(ctx: ServerContext, name: string): Promise<void> {
  await findModel(ctx, name);
  const folder = modelFolder(name, ctx.modelsDir);
  try {
    parseEncoderConfig(JSON.parse(await readFile(join(folder, CONFIG_FILE), 'utf8')), name);
  } catch (error) {
    const why = error instanceof UserInputError ? error.message.replace(/^model: /, '') : `${name}: ${CONFIG_FILE} is not valid JSON`;
    throw new HttpProblem('invalid-input', `model: cannot be fine-tuned: ${why}`, 'model');
  }
  for (const file of [WEIGHTS_FILE, 'tokenizer.json']) {
    if (!(await stat(join(folder, file)).catch(() => null))?.isFile()) {
      const hint = file === WEIGHTS_FILE ? ` (esmselect model pull ${name} --weights fetches it)` : '';
      throw new HttpProblem('invalid-input', `model: ${name} cannot be fine-tuned: it has no ${file}${hint}`, 'model');
    }
  }
}

/** An uploaded dataset file, stored under a name the server chose until its job takes it. */
export interface StoredUpload {
  readonly path: string;
  readonly format: TableFormat;
  /** The name the client gave the file, for messages (never used as a path). */
  readonly clientName: string;
}

/**
 * Stores an uploaded dataset under `<data dir>/jobs/.uploads/`. Its format is `format`, else told
 * by its name's extension; `formatField` is the form field that would name it.
 */
export async function storeUpload(ctx: ServerContext, file: File, formatField: string, format?: TableFormat): Promise<StoredUpload> {
  const chosen = format ?? tableFormatOf(file.name);
  if (!chosen)
    throw new HttpProblem('invalid-input', `${formatField}: cannot tell the format of "${file.name}"; name it (${TABLE_FORMATS.join(', ')})`, formatField);
  const uploads = ctx.registry.resolve(join(JOBS_DIR, '.uploads'));
  await mkdir(uploads, { recursive: true });
  const path = join(uploads, `${randomUUID()}.${chosen}`);
  await writeFile(path, new Uint8Array(await file.arrayBuffer()));
  return { path, format: chosen, clientName: file.name || 'the upload' };
}

/**
 * Reads a stored upload as a labelled text dataset on a worker thread, so a bad column or label is
 * answered at once (422 naming `field`, the upload called by its client's name); a refused upload
 * is removed. Answers its number of examples.
 */
export async function readUpload(ctx: ServerContext, upload: StoredUpload, field: string, options: Omit<DatasetOptions, 'format'>): Promise<number> {
  try {
    return await ctx.workers.countRows(upload.path, { ...options, format: upload.format });
  } catch (error) {
    await discardUpload(upload);
    if (error instanceof UserInputError)
      throw new HttpProblem('invalid-input', error.message.replace(/^dataset: /, `${field}: `).replaceAll(upload.path, upload.clientName), field);
    throw error;
  }
}

export async function discardUpload(upload: StoredUpload): Promise<void> {
  await rm(upload.path, { force: true });
}
