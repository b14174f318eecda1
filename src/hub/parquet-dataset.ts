import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { datasetInfo, HubApiError, listFiles } from '@huggingface/hub';
import { dataDir as defaultDataDir } from '../config.js';
import { UserInputError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { openParquetFile, type Table, type TableRow } from '../io/tables.js';
import { hubFailure } from './api-failures.js';
import { type HubClient, hubClient } from './client.js';
import { type HubConfig, HubOfflineError, hubConfig } from './config.js';
import { hubDatasetId } from './dataset-uri.js';
import type { HubFetchOptions } from './fetch.js';
import { HubContentError } from './hub-errors.js';
import { checkRepoPath, isCommitSha, isRepoId, quoted } from './repo-files.js';
import { datasetLimit, describeLimit, formatBytes } from './size-limits.js';
import { type AnnouncedFile, announced, contentName, downloadVerified } from './verified-download.js';

/**
 * A dataset of the Hugging Face Hub read as its Parquet conversion: every public dataset the
 * dataset viewer supports is converted to Parquet on the branch `refs/convert/parquet`, as
 * `{subset}/{split}/0000.parquet`, `0001.parquet`, … (`{subset}/partial-{split}/…` when only the
 * first part of a large split is converted). That is the one form every dataset is in, whatever
 * its own files are (CSV, JSON, Parquet, a loading script), so esmselect reads only that.
 *
 * Cache (under `<data dir>/cache/hub/`): each file is downloaded once, verified against the sha256
 * the Hub announces, and kept by that checksum (`blobs/<sha256>.parquet`); the conversion's listing
 * is kept per commit of the branch (`datasets/<id>/<commit>/listing.json`), and the newest commit
 * seen (`datasets/<id>/parquet-ref.json`). Reading again asks the Hub only which commit is newest;
 * with HF_HUB_OFFLINE=1 the cache is read as it is, as huggingface_hub does, and what is not there
 * is refused in one line.
 */

export const PARQUET_BRANCH = 'refs/convert/parquet';

export interface HubDatasetOptions {
  /** The subset (the Hub's "config"); default: the only one, else "default". */
  readonly subset?: string;
  /** Default: "train", else the only one. */
  readonly split?: string;
  /** A commit of the conversion branch to read (a job reading again what its request read); default the newest. */
  readonly revision?: string;
  /** Default `dataDir()`. */
  readonly dataDir?: string;
  /** Default from the environment (HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE). */
  readonly hubConfig?: HubConfig;
  readonly fetchOptions?: HubFetchOptions;
  readonly onDownload?: (progress: { file: string; done: number; total: number }) => void;
  readonly signal?: AbortSignal;
}

/** Which data was read: what to record beside the results, and what to pin when reading it again. */
export interface HubDatasetSource {
  /** The dataset id as given. */
  readonly dataset: string;
  readonly subset: string;
  readonly split: string;
  /** The commit of `refs/convert/parquet` the files are from. */
  readonly revision: string;
  /** Only the first part of a large split is converted (`partial-<split>`). */
  readonly partial: boolean;
  readonly files: number;
  readonly bytes: number;
  /** Bytes downloaded by this read (0: all from the cache). */
  readonly downloaded: number;
}

interface Listing {
  readonly repo: string;
  readonly revision: string;
  readonly files: AnnouncedFile[];
}

type Splits = Map<string, Map<string, { partial: boolean; files: AnnouncedFile[] }>>;

/** `org/name` as one folder name (repo ids hold no `--`). */
function flat(id: string): string {
  return id.replaceAll('/', '--');
}

async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return null;
  }
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, `${JSON.stringify(value)}\n`);
}

/** The repo (renames followed) and the newest commit of its Parquet conversion. */
async function resolveConversion(client: HubClient, id: string, uri: string): Promise<{ repo: string; revision: string }> {
  let info: { name: string };
  try {
    info = await datasetInfo({ ...client.params, name: id });
  } catch (error) {
    throw hubFailure(error, { what: uri, field: 'dataset', notFound: 'no such dataset on the Hub' });
  }
  if (!isRepoId(info.name)) throw new HubContentError(`dataset: ${uri}: the Hub names it ${quoted(info.name)}; refused`, 'dataset');
  let conversion: { sha?: unknown };
  try {
    conversion = await datasetInfo({ ...client.params, name: info.name, revision: PARQUET_BRANCH, additionalFields: ['sha'] });
  } catch (error) {
    // The repo exists (it was just found), so a missing revision is a missing conversion.
    if (error instanceof HubApiError && error.statusCode === 404) {
      throw new UserInputError(
        `dataset: ${uri} has no Parquet conversion on the Hub (${PARQUET_BRANCH}: the dataset viewer has not converted it); download its files and give one instead`,
        'dataset',
      );
    }
    throw hubFailure(error, { what: uri, field: 'dataset', notFound: 'no such dataset on the Hub' });
  }
  if (!isCommitSha(conversion.sha)) throw new HubContentError(`dataset: ${uri}: the Hub gives no commit for ${PARQUET_BRANCH}; refused`, 'dataset');
  return { repo: info.name, revision: conversion.sha };
}

/** Every Parquet file of the conversion at a commit, each path checked before anything uses it. */
async function listConversion(client: HubClient, repo: string, revision: string, uri: string): Promise<Listing> {
  const files: AnnouncedFile[] = [];
  try {
    for await (const entry of listFiles({ ...client.params, repo: { type: 'dataset', name: repo }, revision, recursive: true })) {
      if (entry.type !== 'file') continue;
      checkRepoPath(entry.path, `dataset: ${uri}`);
      if (entry.path.endsWith('.parquet')) files.push(announced(entry, `dataset: ${uri}`));
      if (files.length > 100_000) throw new HubContentError(`dataset: ${uri}: the Parquet conversion lists more than 100000 files; refused`, 'dataset');
    }
  } catch (error) {
    throw error instanceof UserInputError ? error : hubFailure(error, { what: uri, field: 'dataset', notFound: 'no such dataset on the Hub' });
  }
  return { repo, revision, files };
}

/** `{subset}/{split}/NNNN.parquet` → subsets → splits → files in order; other files are not the conversion's. */
function conversionSplits(listing: Listing): Splits {
  const splits: Splits = new Map();
  for (const file of listing.files) {
    const match = /^([^/]+)\/([^/]+)\/(\d+)\.parquet$/.exec(file.path);
    if (!match) continue;
    const [, subset, directory] = match;
    const partial = directory.startsWith('partial-');
    const split = partial ? directory.slice('partial-'.length) : directory;
    const bySplit = splits.get(subset) ?? new Map();
    splits.set(subset, bySplit);
    const entry = bySplit.get(split) ?? { partial, files: [] };
    bySplit.set(split, entry);
    entry.files.push(file);
  }
  for (const bySplit of splits.values()) for (const entry of bySplit.values()) entry.files.sort((a, b) => (a.path < b.path ? -1 : 1));
  return splits;
}

function names(values: Iterable<string>): string {
  const all = [...values].sort();
  return `${all.slice(0, 20).map(quoted).join(', ')}${all.length > 20 ? `, … (${all.length} in all)` : ''}`;
}

/** The subset and split asked for, or the defaults; a missing one is refused with the ones there are. */
function chooseSplit(
  splits: Splits,
  uri: string,
  subset: string | undefined,
  split: string | undefined,
): { subset: string; split: string; partial: boolean; files: AnnouncedFile[] } {
  if (splits.size === 0) throw new UserInputError(`dataset: ${uri}: its Parquet conversion holds no Parquet files`, 'dataset');
  const chosenSubset = subset ?? (splits.size === 1 ? [...splits.keys()][0] : splits.has('default') ? 'default' : undefined);
  if (chosenSubset === undefined) throw new UserInputError(`subset: ${uri} has several subsets; give one of ${names(splits.keys())}`, 'subset');
  const bySplit = splits.get(chosenSubset);
  if (!bySplit) throw new UserInputError(`subset: ${uri} has no subset ${quoted(chosenSubset)}; its subsets are ${names(splits.keys())}`, 'subset');
  const chosenSplit = split ?? (bySplit.has('train') ? 'train' : bySplit.size === 1 ? [...bySplit.keys()][0] : undefined);
  if (chosenSplit === undefined)
    throw new UserInputError(`split: ${uri} (subset ${chosenSubset}) has no "train" split; give one of ${names(bySplit.keys())}`, 'split');
  const entry = bySplit.get(chosenSplit);
  if (!entry)
    throw new UserInputError(`split: ${uri} (subset ${chosenSubset}) has no split ${quoted(chosenSplit)}; its splits are ${names(bySplit.keys())}`, 'split');
  return { subset: chosenSubset, split: chosenSplit, ...entry };
}

/** The split's Parquet files as one table: rows numbered through the split, the columns of its first file. */
async function splitTable(paths: readonly string[], name: string): Promise<Table> {
  const tables = await Promise.all(paths.map((path) => openParquetFile(path, name)));
  const columns = tables[0].columns!;
  const other = tables.findIndex((table) => table.columns!.join('\0') !== columns.join('\0'));
  if (other > 0) throw new UserInputError(`dataset: ${name}: its Parquet file ${other + 1} has other columns than the first`, 'dataset');
  return {
    path: name,
    format: 'parquet',
    columns,
    rows: async function* (wanted): AsyncGenerator<TableRow> {
      let offset = 0;
      for (const table of tables) {
        let last = 0;
        for await (const row of table.rows(wanted)) {
          last = row.row;
          yield { row: offset + row.row, values: row.values };
        }
        offset += last;
      }
    },
  };
}

/**
 * Opens a Hub dataset's split (`hf://datasets/ORG/NAME`) as a table, downloading what the cache
 * lacks. Every problem is one line: an unknown dataset, no such subset or split (the ones there are
 * listed), no Parquet conversion, a split over the size limit, offline without a cached copy.
 */
export async function openHubDataset(uri: string, options: HubDatasetOptions = {}): Promise<{ table: Table; source: HubDatasetSource }> {
  const id = hubDatasetId(uri);
  if (options.revision !== undefined && !isCommitSha(options.revision))
    throw new UserInputError(`revision: ${options.revision} is not a commit of ${PARQUET_BRANCH}`, 'revision');
  const config = options.hubConfig ?? hubConfig();
  const what = `reading ${uri}`;
  let client: HubClient | undefined;
  const online = () => (client ??= hubClient(what, config, options.fetchOptions));
  const offline = (missing: string) => new HubOfflineError(`${what} (${missing} is not in the cache)`);

  const root = join(options.dataDir ?? defaultDataDir(), 'cache', 'hub');
  const datasetDir = join(root, 'datasets', flat(id));
  const refFile = join(datasetDir, 'parquet-ref.json');
  let repo = id;
  let revision = options.revision;
  if (revision === undefined) {
    if (config.offline) {
      const ref = await readJson<{ repo: string; revision: string }>(refFile);
      if (!ref || !isCommitSha(ref.revision)) throw offline('its Parquet conversion');
      ({ repo, revision } = ref);
    } else {
      ({ repo, revision } = await resolveConversion(online(), id, uri));
      await writeJson(refFile, { repo, revision });
    }
  }
  const listingFile = join(datasetDir, revision, 'listing.json');
  let listing = await readJson<Listing>(listingFile);
  if (!listing) {
    if (config.offline) throw offline(`the listing of ${PARQUET_BRANCH} at ${revision.slice(0, 12)}`);
    listing = await listConversion(online(), repo, revision, uri);
    await writeJson(listingFile, listing);
  }
  const chosen = chooseSplit(conversionSplits(listing), uri, options.subset, options.split);
  const bytes = chosen.files.reduce((sum, file) => sum + file.size, 0);
  const limit = datasetLimit();
  if (bytes > limit.bytes)
    throw new HubContentError(
      `dataset: ${uri} (${chosen.subset}/${chosen.split}) is ${formatBytes(bytes)} of Parquet; esmselect reads ${describeLimit(limit)}`,
      'dataset',
    );

  const paths: string[] = [];
  let downloaded = 0;
  for (const file of chosen.files) {
    const path = join(root, 'blobs', `${contentName(file)}.parquet`);
    paths.push(path);
    if (await stat(path).catch(() => null)) continue;
    if (config.offline) throw offline(file.path);
    await downloadVerified(online(), { type: 'dataset', name: listing.repo }, listing.revision, file, path, {
      limit,
      signal: options.signal,
      onBytes: (done, total) => options.onDownload?.({ file: `${id}/${file.path}`, done, total }),
    });
    downloaded += file.size;
  }
  const name = `${uri} (subset ${chosen.subset}, split ${chosen.split})`;
  const source: HubDatasetSource = {
    dataset: id,
    subset: chosen.subset,
    split: chosen.split,
    revision,
    partial: chosen.partial,
    files: paths.length,
    bytes,
    downloaded,
  };
  return { table: await splitTable(paths, name), source };
}
