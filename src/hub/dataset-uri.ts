import { UserInputError } from '../errors.js';
import { isRepoId } from './repo-files.js';

/**
 * A dataset on the Hugging Face Hub is named as huggingface_hub's file system (HfFileSystem) names
 * it: `hf://datasets/ORG/NAME` (or `hf://datasets/NAME` for the few datasets without a namespace).
 * No local path starts with `hf://`, so the two cannot be confused; the subset (config) and split
 * are given beside it, as hfselect's `Dataset.from_hugging_face(name, split, …)` takes them.
 */
export const HUB_DATASET_SCHEME = 'hf://';
const PREFIX = 'hf://datasets/';

/** Whether a dataset argument names the Hub rather than a file. */
export function isHubDataset(path: string): boolean {
  return path.startsWith(HUB_DATASET_SCHEME);
}

/** The dataset's repo id, or a one-line refusal of anything else that starts with hf://. */
export function hubDatasetId(uri: string, field = 'dataset'): string {
  if (!uri.startsWith(PREFIX)) throw new UserInputError(`${field}: ${uri}: a Hub dataset is written hf://datasets/ORG/NAME`, field);
  const id = uri.slice(PREFIX.length).replace(/\/+$/, '');
  if (id.includes('@'))
    throw new UserInputError(
      `${field}: ${uri}: revisions are not supported (esmselect reads the Hub's Parquet conversion of the dataset's main branch)`,
      field,
    );
  if (!isRepoId(id)) throw new UserInputError(`${field}: ${uri}: "${id}" is not a Hub dataset id (ORG/NAME: letters, digits, ".", "_", "-")`, field);
  return id;
}

export function hubDatasetUri(id: string): string {
  return `${PREFIX}${id}`;
}
