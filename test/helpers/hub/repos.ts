import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';

/**
 * The repositories of the Hub stand-in: git-like commits of files, LFS objects by sha256, branches
 * (including the dataset viewer's `refs/convert/parquet`), renamed repos, and the tags the Hub derives
 * from a model card. Only what the Hub's HTTP API shows of a repo is modelled.
 */

export type RepoType = 'model' | 'dataset';

export interface StoredFile {
  readonly path: string;
  /** The git blob's content: the file itself, or its LFS pointer. */
  readonly blob: Buffer;
  /** The git blob id (sha1 of `blob <size>\0` + content), the `oid` of the tree API. */
  readonly oid: string;
  /** Set for LFS files: the object's sha256 and size (the content lives in the LFS store). */
  readonly lfs?: { readonly oid: string; readonly size: number; readonly pointerSize: number };
}

export interface Commit {
  readonly oid: string;
  readonly parent: string | null;
  readonly title: string;
  readonly date: Date;
  readonly files: ReadonlyMap<string, StoredFile>;
}

export interface Repo {
  readonly type: RepoType;
  readonly id: string;
  /** The Hub's internal object id (`_id`, 24 hex digits). */
  readonly objectId: string;
  readonly createdAt: Date;
  private: boolean;
  downloads: number;
  likes: number;
  /** Tags set besides those derived from the card (e.g. a library name). */
  extraTags: string[];
  readonly branches: Map<string, string>;
  readonly commits: Map<string, Commit>;
}

/** Files matched by the default `.gitattributes` of a new Hub repo are stored with LFS. */
export const LFS_EXTENSIONS = ['.safetensors', '.onnx', '.bin', '.parquet', '.h5', '.msgpack', '.pt', '.pth', '.arrow', '.npy', '.zip', '.gz'];
/** The Hub stores a file in LFS when it is larger than 10 MiB, or binary, whatever its name. */
export const LFS_SIZE = 10 * 2 ** 20;

const DEFAULT_GITATTRIBUTES = `${LFS_EXTENSIONS.map((ext) => `*${ext} filter=lfs diff=lfs merge=lfs -text`).join('\n')}\n`;

export function sha256(content: Uint8Array): string {
  return createHash('sha256').update(content).digest('hex');
}

function gitBlobOid(content: Uint8Array): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

export function lfsPointer(oid: string, size: number): Buffer {
  return Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize ${size}\n`);
}

/** What the preupload endpoint answers for a file: LFS by extension, size or binary content. */
export function uploadMode(path: string, size: number, sample: Buffer): 'lfs' | 'regular' {
  if (size > LFS_SIZE || sample.includes(0)) return 'lfs';
  return LFS_EXTENSIONS.some((ext) => path.endsWith(ext)) ? 'lfs' : 'regular';
}

export class RepoStore {
  readonly repos = new Map<string, Repo>();
  /** Old name → new name, per type: the Hub redirects renamed repos (bert-base-uncased → google-bert/…). */
  readonly renamed = new Map<string, string>();
  /** LFS objects by sha256. */
  readonly objects = new Map<string, Buffer>();
  private counter = 0;

  key(type: RepoType, id: string): string {
    return `${type}:${id}`;
  }

  get(type: RepoType, id: string): Repo | undefined {
    return this.repos.get(this.key(type, id));
  }

  /** The current name of a renamed repo, or undefined. */
  redirect(type: RepoType, id: string): string | undefined {
    return this.renamed.get(this.key(type, id));
  }

  rename(type: RepoType, from: string, to: string): void {
    this.renamed.set(this.key(type, from), to);
  }

  create(type: RepoType, id: string, options: { private?: boolean } = {}): Repo {
    if (this.get(type, id)) throw new Error(`${type} ${id} exists`);
    const objectId = createHash('sha1').update(`${type}:${id}`).digest('hex').slice(0, 24);
    const repo: Repo = {
      type,
      id,
      objectId,
      createdAt: new Date(Date.UTC(2024, 0, 1) + this.repos.size * 60_000),
      private: options.private ?? false,
      downloads: 0,
      likes: 0,
      extraTags: [],
      branches: new Map(),
      commits: new Map(),
    };
    this.repos.set(this.key(type, id), repo);
    // A new Hub repo starts with one commit holding the default .gitattributes.
    this.commit(repo, 'main', { title: 'initial commit', files: { '.gitattributes': DEFAULT_GITATTRIBUTES } });
    return repo;
  }

  /**
   * A new commit on `branch`: `files` are added or replaced
   * (a Buffer whose path is LFS-tracked is stored as an LFS object), `deleted` removed.
   */
  commit(
    repo: Repo,
    branch: string,
    change: { title: string; files?: Record<string, Buffer | string>; lfs?: Record<string, string>; deleted?: string[]; orphan?: boolean },
  ): Commit {
    // A new branch starts from main's head, or empty (`orphan`, as the Parquet conversion's branch does).
    const parentOid = repo.branches.get(branch) ?? (change.orphan ? null : (repo.branches.get('main') ?? null));
    const files = new Map(parentOid ? repo.commits.get(parentOid)!.files : []);
    for (const path of change.deleted ?? []) {
      for (const existing of [...files.keys()]) if (existing === path || existing.startsWith(`${path}/`)) files.delete(existing);
    }
    for (const [path, value] of Object.entries(change.files ?? {})) {
      const content = typeof value === 'string' ? Buffer.from(value) : value;
      if (uploadMode(path, content.length, content.subarray(0, 512)) === 'lfs') {
        const oid = sha256(content);
        this.objects.set(oid, content);
        files.set(path, this.lfsFile(path, oid, content.length));
      } else {
        files.set(path, { path, blob: content, oid: gitBlobOid(content) });
      }
    }
    for (const [path, oid] of Object.entries(change.lfs ?? {})) {
      const object = this.objects.get(oid);
      if (!object) throw new Error(`no LFS object ${oid}`);
      files.set(path, this.lfsFile(path, oid, object.length));
    }
    const oid = createHash('sha1')
      .update(`${repo.id}\0${parentOid}\0${change.title}\0${++this.counter}`)
      .digest('hex');
    const commit: Commit = { oid, parent: parentOid, title: change.title, date: new Date(Date.UTC(2024, 0, 2) + this.counter * 1000), files };
    repo.commits.set(oid, commit);
    repo.branches.set(branch, oid);
    return commit;
  }

  private lfsFile(path: string, oid: string, size: number): StoredFile {
    const pointer = lfsPointer(oid, size);
    return { path, blob: pointer, oid: gitBlobOid(pointer), lfs: { oid, size, pointerSize: pointer.length } };
  }

  /** A branch name, a full commit sha, or HEAD → the commit; undefined when unknown. */
  resolveRevision(repo: Repo, revision: string): Commit | undefined {
    const oid = revision === 'HEAD' ? repo.branches.get('main') : (repo.branches.get(revision) ?? (repo.commits.has(revision) ? revision : undefined));
    return oid ? repo.commits.get(oid) : undefined;
  }

  head(repo: Repo): Commit {
    return repo.commits.get(repo.branches.get('main')!)!;
  }

  /** The model card's YAML front matter (README.md at the head of main), or {}. */
  cardData(repo: Repo): Record<string, unknown> {
    const readme = this.head(repo).files.get('README.md');
    if (!readme || readme.lfs) return {};
    const match = /^---\r?\n([\s\S]*?)\r?\n---/.exec(readme.blob.toString('utf8'));
    if (!match) return {};
    try {
      const data = parseYaml(match[1]);
      return data && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  }

  /**
   * The tags the Hub shows for a repo: the card's `tags`, then what it derives from the card's
   * metadata (`license:`, `dataset:`, `base_model:` and `base_model:<relation>:` with the base
   * model's current name, the relation being `finetune` unless the card says otherwise), `region:us`.
   */
  tags(repo: Repo): string[] {
    const card = this.cardData(repo);
    const list = (value: unknown): string[] => (Array.isArray(value) ? value : value === undefined || value === null ? [] : [value]).map(String);
    const tags = [...repo.extraTags, ...list(card.tags)];
    if (typeof card.library_name === 'string') tags.push(card.library_name);
    for (const license of list(card.license)) tags.push(`license:${license}`);
    for (const dataset of list(card.datasets)) tags.push(`dataset:${dataset}`);
    const relation = typeof card.base_model_relation === 'string' ? card.base_model_relation : 'finetune';
    for (const base of list(card.base_model)) {
      const current = this.redirect('model', base) ?? base;
      tags.push(`base_model:${current}`, `base_model:${relation}:${current}`);
    }
    tags.push('region:us');
    return [...new Set(tags)];
  }
}
