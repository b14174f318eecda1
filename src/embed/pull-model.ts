import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { downloadFile, modelInfo, pathsInfo } from '@huggingface/hub';
import { modelsDir as defaultModelsDir } from '../config.js';
import { UserInputError } from '../errors.js';
import { hubFailure } from '../hub/api-failures.js';
import { type HubClient, hubClient } from '../hub/client.js';
import { HubContentError } from '../hub/hub-errors.js';
import { checkRepoPath, isCommitSha, isRepoId, quoted } from '../hub/repo-files.js';
import { modelFileLimit, type SizeLimit, SMALL_FILE_LIMIT } from '../hub/size-limits.js';
import { type AnnouncedFile, announced, downloadVerified, readRange } from '../hub/verified-download.js';
import { syncDirectory, writeFileAtomic } from '../io/atomic.js';
import { readSafetensorsRanges, SafetensorsError, serializeSafetensors, toFloat32 } from '../io/safetensors.js';
import { describeModel, modelFolder } from './model-folder.js';

/**
 * `esmselect model pull NAME`: a base model from the Hugging Face Hub into `models/NAME/`, in the
 * layout the embedder loads offline (config.json, the tokenizer files, onnx/model.onnx) without
 * Python or an ONNX export of our own:
 *
 * - NAME is resolved through the Hub's model info, which follows renames (bert-base-uncased →
 *   google-bert/bert-base-uncased), and pinned to the commit it names; the folder keeps the name
 *   the user gave (the spelling of the ESMs' base_model_name, which the embeddings are recorded
 *   under), and `hub-pull.json` records the repo it resolved to and the commits.
 * - The ONNX graph comes from NAME when it has `onnx/model.onnx`, else from `onnxRepo` (a community
 *   conversion of the same checkpoint, e.g. Xenova/bert-base-uncased), which may also supply
 *   tokenizer files NAME lacks.
 * - BERT is pooled with pooler_output, which ONNX feature-extraction exports leave out: only the
 *   pooler's two tensors are read from NAME's model.safetensors, by HTTP range requests at the
 *   offsets of its header (8-byte length, JSON header, then the two byte ranges), and written as
 *   `pooler.safetensors`, which the embedder reads. `weights` downloads the whole model.safetensors
 *   instead (the fine-tuning runner and the TensorFlow.js encoder need it).
 *
 * Every file downloaded whole is checked against the size and checksum the Hub announces; the
 * folder is assembled under `<models dir>/.partial/` and renamed into place at the end, so a folder
 * under its name is always complete; a killed pull continues where it stopped. Only the files named
 * here are fetched, whatever else the repo holds.
 */

export const PULL_RECORD = 'hub-pull.json';
export const POOLER_FILE = 'pooler.safetensors';
const CONFIG = 'config.json';
const WEIGHTS = 'model.safetensors';
const ONNX_FILES = ['onnx/model.onnx', 'onnx/model.onnx_data'] as const;
/** The tokenizer files transformers.js and the fine-tuning runner read, as the repo has them. */
const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'vocab.txt',
  'vocab.json',
  'merges.txt',
  'added_tokens.json',
  'sentencepiece.bpe.model',
  'spiece.model',
] as const;
/** sentence-transformers' description of the model: modules.json is what makes it mean-pooled. */
const SENTENCE_TRANSFORMERS_FILES = ['modules.json', 'config_sentence_transformers.json', 'sentence_bert_config.json', '1_Pooling/config.json'] as const;
/** transformers.js cannot load a model without these. */
const REQUIRED_TOKENIZER = ['tokenizer.json', 'tokenizer_config.json'] as const;
/** BertModel.save_pretrained names the pooler `pooler.dense.*`; a BertFor… checkpoint prefixes `bert.`. */
const POOLER_PREFIXES = ['pooler.dense.', 'bert.pooler.dense.'] as const;

export interface PullModelOptions {
  /** A branch, tag or commit of NAME; default its main branch. */
  readonly revision?: string;
  /** A repo with `onnx/model.onnx` for NAME's checkpoint, used when NAME has no ONNX export. */
  readonly onnxRepo?: string;
  /** Download NAME's whole model.safetensors (for fine-tuning and the TensorFlow.js encoder). */
  readonly weights?: boolean;
  /** Without ONNX anywhere, take the weights instead of refusing (esm train pulls models this way). */
  readonly weightsWithoutOnnx?: boolean;
  /** Default `modelsDir()` (ESMSELECT_MODELS_DIR, else models/). */
  readonly modelsDir?: string;
  /** Default `hubClient('model pull NAME')` from the environment. */
  readonly hub?: HubClient;
  readonly onProgress?: (progress: { file: string; done: number; total: number }) => void;
  /** Remarks for the user (e.g. which repo the ONNX came from). */
  readonly onNote?: (note: string) => void;
  readonly signal?: AbortSignal;
}

/** What `hub-pull.json` records. */
export interface PullRecord {
  /** The name the folder is under, as asked for. */
  readonly requested: string;
  /** The repo NAME resolved to (after renames) and its commit. */
  readonly repo: string;
  readonly revision: string | null;
  readonly commit: string;
  readonly onnx: { readonly repo: string; readonly commit: string } | null;
  readonly weights: boolean;
  /** Where the BERT pooler comes from, when the model is pooled with pooler_output. */
  readonly pooler: typeof POOLER_FILE | typeof WEIGHTS | null;
  readonly files: Readonly<Record<string, { readonly repo: string; readonly size: number; readonly sha256?: string; readonly git_oid?: string }>>;
  readonly pulled_at: string;
}

export interface PulledModel {
  readonly name: string;
  readonly folder: string;
  readonly record: PullRecord;
  /** The folder already held this pull (same commits and options): nothing was downloaded. */
  readonly upToDate: boolean;
}

interface RepoAtCommit {
  readonly repo: string;
  readonly commit: string;
}

interface PlannedFile {
  readonly from: RepoAtCommit;
  readonly file: AnnouncedFile;
  readonly limit: SizeLimit;
}

async function resolveRepo(hub: HubClient, name: string, revision: string | undefined, field: string): Promise<RepoAtCommit> {
  let info: { name: string; sha?: unknown };
  try {
    info = await modelInfo({ ...hub.params, name, revision, additionalFields: ['sha'] });
  } catch (error) {
    throw hubFailure(error, {
      what: revision ? `${name} at ${revision}` : name,
      field,
      notFound: revision ? 'no such model or revision on the Hub' : 'no such model on the Hub',
    });
  }
  if (!isRepoId(info.name) || !isCommitSha(info.sha))
    throw new HubContentError(`${field}: ${name}: the Hub's model info names the repo ${quoted(info.name)} at ${quoted(String(info.sha))}; refused`, field);
  return { repo: info.name, commit: info.sha };
}

/** The announced files among `paths` at the commit; the Hub is asked for these names only, and any other name in its answer is ignored. */
async function repoFiles(hub: HubClient, at: RepoAtCommit, paths: readonly string[], field: string): Promise<Map<string, AnnouncedFile>> {
  let entries: { path: string; type: string; size: number; oid?: string; lfs?: { oid: string; size: number } }[];
  try {
    entries = await pathsInfo({ ...hub.params, repo: at.repo, paths: [...paths], revision: at.commit });
  } catch (error) {
    throw hubFailure(error, { what: at.repo, field, notFound: 'no such model on the Hub' });
  }
  const files = new Map<string, AnnouncedFile>();
  for (const entry of entries) {
    if (entry.type !== 'file' || !paths.includes(entry.path)) continue;
    files.set(checkRepoPath(entry.path, `${field}: ${at.repo}`), announced(entry, `${field}: ${at.repo}`));
  }
  return files;
}

async function readRecord(folder: string): Promise<PullRecord | null> {
  try {
    return JSON.parse(await readFile(join(folder, PULL_RECORD), 'utf8')) as PullRecord;
  } catch {
    return null;
  }
}

/** `org/name` → `org--name`: one folder name under .partial/, followed by the commits it is a pull of. */
function flatName(name: string): string {
  return name.replaceAll('/', '--');
}

/**
 * The pooler's two tensors of a remote model.safetensors, by range requests: the header first,
 * then only their bytes. Checked against the hidden size; null when the checkpoint has no pooler.
 */
async function remotePooler(hub: HubClient, at: RepoAtCommit, weights: AnnouncedFile, hidden: number, field: string): Promise<Uint8Array | null> {
  const where = `${at.repo}/${WEIGHTS}`;
  let blob: Blob | null;
  try {
    blob = await downloadFile({ ...hub.params, repo: at.repo, path: WEIGHTS, revision: at.commit });
  } catch (error) {
    throw hubFailure(error, { what: where, field, notFound: 'not found on the Hub' });
  }
  if (!blob || blob.size !== weights.size)
    throw new HubContentError(`${field}: ${where}: the Hub serves ${blob?.size ?? 'nothing'} bytes but announces ${weights.size}; refused`, field);
  const names = POOLER_PREFIXES.flatMap((prefix) => [`${prefix}weight`, `${prefix}bias`]);
  let tensors: Awaited<ReturnType<typeof readSafetensorsRanges>>;
  try {
    // Header and pooler are a few MB at most in any real checkpoint; a header announcing more is not read.
    const read = (position: number, length: number) => {
      if (length > SMALL_FILE_LIMIT.bytes)
        throw new HubContentError(`${field}: ${where}: its header asks to read ${length} bytes at once for the pooler; refused`, field);
      return readRange(blob, position, length, where);
    };
    tensors = await readSafetensorsRanges(read, blob.size, names);
  } catch (error) {
    if (error instanceof SafetensorsError)
      throw new HubContentError(`${field}: ${where} is not a readable safetensors file (${error.message}); refused`, field);
    throw error;
  }
  for (const prefix of POOLER_PREFIXES) {
    const weight = tensors.get(`${prefix}weight`);
    const bias = tensors.get(`${prefix}bias`);
    if (!weight || !bias) continue;
    if (weight.shape.join() !== `${hidden},${hidden}` || bias.shape.join() !== `${hidden}`) {
      throw new HubContentError(
        `${field}: ${where}: the pooler has shapes [${weight.shape.join(', ')}] and [${bias.shape.join(', ')}], config.json's hidden size is ${hidden}; refused`,
        field,
      );
    }
    return serializeSafetensors(
      {
        'pooler.dense.weight': { dtype: 'F32', shape: [hidden, hidden], data: toFloat32(weight) },
        'pooler.dense.bias': { dtype: 'F32', shape: [hidden], data: toFloat32(bias) },
      },
      { format: 'pt', source: `${at.repo}@${at.commit}:${WEIGHTS}` },
    );
  }
  return null;
}

/** Replaces `folder` by `ready` with two renames; the previous pull is removed after. */
async function install(ready: string, folder: string, partial: string): Promise<void> {
  await mkdir(dirname(folder), { recursive: true });
  const previous = (await stat(folder).catch(() => null)) ? join(partial, `previous-${process.pid}-${Date.now()}`) : null;
  if (previous) await rename(folder, previous);
  await rename(ready, folder);
  await syncDirectory(dirname(folder));
  if (previous) await rm(previous, { recursive: true, force: true });
}

function hiddenSize(config: Record<string, unknown>): number {
  const value = config.hidden_size ?? config.dim;
  return Number.isSafeInteger(value) ? (value as number) : 0;
}

export async function pullModel(name: string, options: PullModelOptions = {}): Promise<PulledModel> {
  const field = 'model';
  const root = options.modelsDir ?? defaultModelsDir();
  const folder = modelFolder(name, root);
  const note = options.onNote ?? (() => {});
  if (options.onnxRepo !== undefined && !isRepoId(options.onnxRepo))
    throw new UserInputError(`onnx repo: "${options.onnxRepo}" is not a Hub repo id (namespace/name)`, 'onnx_repo');
  const hub = options.hub ?? hubClient(`model pull ${name}`);

  const main = await resolveRepo(hub, name, options.revision, field);
  if (main.repo !== name) note(`${name} is ${main.repo} on the Hub; the folder keeps the name ${name}`);
  const mainFiles = await repoFiles(hub, main, [CONFIG, ...TOKENIZER_FILES, ...SENTENCE_TRANSFORMERS_FILES, ...ONNX_FILES, WEIGHTS], field);
  if (!mainFiles.has(CONFIG))
    throw new UserInputError(`${field}: ${main.repo} has no config.json at ${main.commit.slice(0, 12)}: not a transformers model`, field);

  const existing = await readRecord(folder);
  const sameRepo = existing?.repo === main.repo;
  // A later pull of the folder keeps what the last one gave it unless told otherwise: the ONNX
  // conversion (a `--weights` pull for fine-tuning would leave no graph to embed with) and the
  // weights (a plain pull would drop them, and fine-tuning would need the whole file again).
  const kept = sameRepo && existing.onnx && existing.onnx.repo !== main.repo && isRepoId(existing.onnx.repo) ? existing.onnx.repo : undefined;
  const onnxRepo = options.onnxRepo ?? kept;
  let onnxFrom: RepoAtCommit | null = null;
  let onnxFiles = new Map<string, AnnouncedFile>();
  let weights = options.weights || (sameRepo && existing.weights);
  if (mainFiles.has(ONNX_FILES[0])) {
    onnxFrom = main;
    if (options.onnxRepo) note(`${main.repo} has its own onnx/model.onnx; --onnx-repo ${options.onnxRepo} is not needed`);
  } else if (onnxRepo) {
    if (!options.onnxRepo) note(`the ONNX graph comes from ${onnxRepo} again, as in the folder's last pull (--onnx-repo names another)`);
    onnxFrom = await resolveRepo(hub, onnxRepo, undefined, 'onnx_repo');
    onnxFiles = await repoFiles(hub, onnxFrom, [...ONNX_FILES, ...TOKENIZER_FILES], 'onnx_repo');
    if (!onnxFiles.has(ONNX_FILES[0])) throw new UserInputError(`onnx repo: ${onnxFrom.repo} has no onnx/model.onnx`, 'onnx_repo');
  } else if (options.weightsWithoutOnnx && mainFiles.has(WEIGHTS)) {
    weights = true;
    note(`${main.repo} has no ONNX export: taking model.safetensors, for the TensorFlow.js encoder`);
  } else if (!weights) {
    const short = main.repo.split('/').pop();
    throw new UserInputError(
      `${field}: ${main.repo} has no onnx/model.onnx; give --onnx-repo with an ONNX conversion of the same checkpoint (e.g. Xenova/${short}), or --weights to fetch model.safetensors for fine-tuning and the TensorFlow.js encoder`,
      field,
    );
  }
  if (weights && !mainFiles.has(WEIGHTS))
    throw new UserInputError(`${field}: ${main.repo} has no model.safetensors (esmselect reads safetensors weights only)`, field);

  const sameOnnx = (existing?.onnx?.repo ?? null) === (onnxFrom?.repo ?? null) && (existing?.onnx?.commit ?? null) === (onnxFrom?.commit ?? null);
  if (existing && existing.repo === main.repo && existing.commit === main.commit && sameOnnx && existing.weights === weights) {
    return { name, folder, record: existing, upToDate: true };
  }
  if (!existing && (await stat(folder).catch(() => null))) {
    throw new UserInputError(
      `${field}: ${name} is already a folder under the models directory that esmselect did not pull; move it away to pull ${name} from the Hub`,
      field,
    );
  }

  // What goes into the folder, and from where: NAME's files first, the ONNX repo's for what NAME lacks.
  const plan = new Map<string, PlannedFile>();
  const take = (path: string, from: RepoAtCommit, files: Map<string, AnnouncedFile>, limit: SizeLimit) => {
    const file = files.get(path);
    if (file && !plan.has(path)) plan.set(path, { from, file, limit });
  };
  for (const path of [CONFIG, ...TOKENIZER_FILES, ...SENTENCE_TRANSFORMERS_FILES]) take(path, main, mainFiles, SMALL_FILE_LIMIT);
  if (onnxFrom && onnxFrom !== main) for (const path of TOKENIZER_FILES) take(path, onnxFrom, onnxFiles, SMALL_FILE_LIMIT);
  const missing = REQUIRED_TOKENIZER.filter((path) => !plan.has(path));
  if (missing.length)
    throw new UserInputError(
      `${field}: ${main.repo}${onnxFrom && onnxFrom !== main ? ` and ${onnxFrom.repo} have` : ' has'} no ${missing.join(' or ')} (transformers.js needs the tokenizer in that form)`,
      field,
    );
  const small = new Set(plan.keys());
  if (onnxFrom) for (const path of ONNX_FILES) take(path, onnxFrom, onnxFrom === main ? mainFiles : onnxFiles, modelFileLimit());
  if (weights) take(WEIGHTS, main, mainFiles, modelFileLimit());

  const partial = join(root, '.partial');
  const flat = flatName(name);
  const work = join(
    partial,
    `${flat}@${main.commit.slice(0, 12)}${onnxFrom && onnxFrom !== main ? `+${onnxFrom.commit.slice(0, 12)}` : ''}${weights ? '+weights' : ''}`,
  );
  // Another commit's unfinished pull of the same name is of no use any more.
  for (const entry of await readdir(partial).catch(() => [] as string[])) {
    if (entry.startsWith(`${flat}@`) && join(partial, entry) !== work) await rm(join(partial, entry), { recursive: true, force: true });
  }
  const fetchFile = async (path: string) => {
    const { from, file, limit } = plan.get(path)!;
    const dest = join(work, path);
    if (await stat(dest).catch(() => null)) return; // verified in an earlier run
    await downloadVerified(hub, from.repo, from.commit, file, dest, {
      limit,
      signal: options.signal,
      onBytes: (done, total) => options.onProgress?.({ file: path, done, total }),
    });
  };
  // The small files first: config.json decides whether the model can be embedded at all, before gigabytes are fetched.
  for (const path of small) await fetchFile(path);
  const meta = await describeModel(name, work, 0).catch((error: unknown) => {
    throw error instanceof UserInputError ? new UserInputError(error.message.replaceAll(work, name), error.field) : error;
  });
  for (const path of plan.keys()) if (!small.has(path)) await fetchFile(path);

  let pooler: PullRecord['pooler'] = null;
  if (meta.pooling === 'pooler_output') {
    if (weights) pooler = WEIGHTS;
    else if (mainFiles.has(WEIGHTS)) {
      const config = JSON.parse(await readFile(join(work, CONFIG), 'utf8')) as Record<string, unknown>;
      const bytes = await remotePooler(hub, main, mainFiles.get(WEIGHTS)!, hiddenSize(config), field);
      if (bytes) {
        await writeFileAtomic(join(work, POOLER_FILE), bytes);
        pooler = POOLER_FILE;
      } else note(`${main.repo}/model.safetensors has no pooler.dense tensors: BERT's pooler_output must then come from the ONNX graph`);
    } else note(`${main.repo} has no model.safetensors to take BERT's pooler from: pooler_output must then come from the ONNX graph`);
  }

  const record: PullRecord = {
    requested: name,
    repo: main.repo,
    revision: options.revision ?? null,
    commit: main.commit,
    onnx: onnxFrom && { repo: onnxFrom.repo, commit: onnxFrom.commit },
    weights,
    pooler,
    files: Object.fromEntries(
      [...plan].map(([path, { from, file }]) => [
        path,
        { repo: from.repo, size: file.size, ...(file.sha256 ? { sha256: file.sha256 } : { git_oid: file.gitOid }) },
      ]),
    ),
    pulled_at: new Date().toISOString(),
  };
  await writeFileAtomic(join(work, PULL_RECORD), `${JSON.stringify(record, null, 2)}\n`);
  await install(work, folder, partial);
  return { name, folder, record, upToDate: false };
}

/**
 * A model folder for `name`, pulled from the Hub only when the models directory has none (what
 * `esm train` does for the models it embeds with): an ONNX export when NAME has one, else its
 * model.safetensors for the TensorFlow.js encoder.
 */
export async function ensureModel(
  name: string,
  options: Omit<PullModelOptions, 'weightsWithoutOnnx' | 'revision'> = {},
): Promise<{ folder: string; pulled: PulledModel | null }> {
  const folder = modelFolder(name, options.modelsDir ?? defaultModelsDir());
  if (await stat(join(folder, CONFIG)).catch(() => null)) return { folder, pulled: null };
  const pulled = await pullModel(name, { ...options, weightsWithoutOnnx: true });
  return { folder, pulled };
}
