import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { UserInputError } from '../errors.js';
import { hubDatasetId, isHubDataset } from '../hub/dataset-uri.js';
import { TABLE_FORMATS } from '../io/tables.js';

/**
 * A target name: it names the target's output files, so it is a plain file name. Names derived from
 * a file name are checked the same way.
 */
const TARGET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

const name = z.string().regex(TARGET_NAME, 'must start with a letter or digit and hold only letters, digits, ".", "_", "-" (at most 100)');
const taskType = z.enum(['classification', 'regression']);

/**
 * A dataset to embed with a base model, as `esmselect rank --dataset` takes it: a file, or a Hub
 * dataset (`hf://datasets/ORG/NAME` with `subset` and `split`); field names follow hfselect's ESMConfig.
 */
const datasetTargetSchema = z.strictObject({
  name: name.optional(),
  dataset: z.string().min(1),
  subset: z.string().min(1).optional(),
  split: z.string().min(1).optional(),
  text_column: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  label_column: z.string().min(1),
  task_type: taskType.optional(),
  num_examples: z.number().int().positive().optional(),
  seed: z.number().int().nonnegative().optional(),
  format: z.enum(TABLE_FORMATS).optional(),
  model: z.string().min(1).optional(),
});

/** Embeddings already computed, as `esmselect rank --embeddings` takes them. */
const embeddingsTargetSchema = z.strictObject({
  name: name.optional(),
  embeddings: z.string().min(1),
  labels: z.string().min(1).optional(),
  task_type: taskType.optional(),
});

const targetSchema = z.union([datasetTargetSchema, embeddingsTargetSchema]);

const yamlManifestSchema = z.union([z.array(z.unknown()), z.strictObject({ model: z.string().min(1).optional(), targets: z.array(z.unknown()) })]);

export type DatasetTarget = z.infer<typeof datasetTargetSchema> & { readonly name: string; readonly model: string };
export type EmbeddingsTarget = z.infer<typeof embeddingsTargetSchema> & { readonly name: string };
/** One target of a batch, with its name settled and its paths absolute. */
export type ManifestTarget = DatasetTarget | EmbeddingsTarget;

const FIELD = 'targets';

function fail(path: string, problem: string): never {
  throw new UserInputError(`targets: ${path}: ${problem}`, FIELD);
}

/** "entry 3" in a YAML list, "line 3" in JSONL: where the user finds it. */
type Located = { readonly value: unknown; readonly where: string };

function yamlEntries(path: string, text: string): { entries: Located[]; model?: string } {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    if (error instanceof YAMLParseError) fail(path, `is not valid YAML (${error.message.split('\n')[0]})`);
    throw error;
  }
  const parsed = yamlManifestSchema.safeParse(document);
  if (!parsed.success) fail(path, 'expected a list of targets, or a mapping with "targets" (a list) and optionally "model"');
  const { entries, model } = Array.isArray(parsed.data)
    ? { entries: parsed.data, model: undefined }
    : { entries: parsed.data.targets, model: parsed.data.model };
  return { entries: entries.map((value, i) => ({ value, where: `entry ${i + 1}` })), model };
}

function jsonlEntries(path: string, text: string): Located[] {
  const entries: Located[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      entries.push({ value: JSON.parse(line), where: `line ${i + 1}` });
    } catch {
      fail(path, `line ${i + 1} is not valid JSON`);
    }
  });
  return entries;
}

function describeIssue(error: z.ZodError, value: unknown): string {
  const isObject = typeof value === 'object' && value !== null && !Array.isArray(value);
  if (!isObject) return 'expected a mapping with "dataset" (and text_column, label_column) or "embeddings"';
  if (!('dataset' in value) && !('embeddings' in value)) return 'needs "dataset" (a file to embed) or "embeddings" (embeddings already computed)';
  if ('dataset' in value && 'embeddings' in value) return 'give "dataset" or "embeddings", not both';
  // The union reports every branch; the branch the entry meant is the one its key names.
  const branch = 'dataset' in value ? datasetTargetSchema : embeddingsTargetSchema;
  const issue = (branch.safeParse(value).error ?? error).issues[0];
  const field = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') return `unknown field ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  return `${field || '(entry)'}: ${issue.message}`;
}

/** The default name: the file name without its extension (a harness directory: its name; a Hub dataset: its name, subset and split). */
function derivedName(file: string, subset?: string, split?: string): string {
  if (isHubDataset(file)) return [hubDatasetId(file).split('/').pop(), subset, split].filter(Boolean).join('-');
  return basename(file, extname(file));
}

/**
 * Reads a batch manifest: YAML (`.yaml`/`.yml`: a list of targets, or `targets:` plus a default
 * `model:`) or JSON Lines (`.jsonl`: one target per line). Each target is a dataset file to embed
 * (`dataset`, `text_column`, `label_column`, `task_type`, `num_examples`, `seed`, `format`, `model`) or
 * embeddings (`embeddings`, `labels`, `task_type`); relative paths are relative to the manifest.
 * Every problem is a UserInputError naming the entry and field.
 */
export async function readManifest(path: string): Promise<ManifestTarget[]> {
  const ext = extname(path).toLowerCase();
  if (!['.yaml', '.yml', '.jsonl', '.ndjson'].includes(ext)) fail(path, 'unknown manifest format; use .yaml/.yml or .jsonl');
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) =>
    fail(path, error.code === 'ENOENT' ? 'does not exist' : `cannot be read (${error.code})`),
  );
  const { entries, model } = ext === '.yaml' || ext === '.yml' ? yamlEntries(path, text) : { entries: jsonlEntries(path, text), model: undefined };
  if (entries.length === 0) fail(path, 'lists no targets');
  const base = dirname(resolve(path));
  const seen = new Map<string, string>();
  return entries.map(({ value, where }) => {
    const parsed = targetSchema.safeParse(value);
    if (!parsed.success) fail(path, `${where}: ${describeIssue(parsed.error, value)}`);
    const entry = parsed.data;
    if ('dataset' in entry && isHubDataset(entry.dataset)) {
      try {
        hubDatasetId(entry.dataset);
      } catch (error) {
        fail(path, `${where}: ${(error as Error).message}`);
      }
    }
    const file = 'dataset' in entry ? entry.dataset : entry.embeddings;
    const targetName = entry.name ?? ('dataset' in entry ? derivedName(file, entry.subset, entry.split) : derivedName(file));
    if (!TARGET_NAME.test(targetName)) fail(path, `${where}: the name "${targetName}" taken from the file name is not a plain file name; give "name"`);
    const earlier = seen.get(targetName);
    if (earlier) fail(path, `${where}: the name "${targetName}" is taken by ${earlier}; give the targets distinct names`);
    seen.set(targetName, where);
    if ('embeddings' in entry) {
      return { ...entry, name: targetName, embeddings: resolve(base, entry.embeddings), ...(entry.labels ? { labels: resolve(base, entry.labels) } : {}) };
    }
    const targetModel = entry.model ?? model;
    if (!targetModel) fail(path, `${where}: "model" is needed to embed ${entry.dataset} (per target, or once at the top of a YAML manifest)`);
    if (!isHubDataset(entry.dataset) && (entry.subset !== undefined || entry.split !== undefined))
      fail(path, `${where}: "subset" and "split" go with a Hub dataset (hf://datasets/ORG/NAME), not a file`);
    return { ...entry, name: targetName, dataset: isHubDataset(entry.dataset) ? entry.dataset : resolve(base, entry.dataset), model: targetModel };
  });
}
