import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Commit, type Repo, RepoStore, type RepoType, type StoredFile, sha256, uploadMode } from './repos.js';

/**
 * A local stand-in of the Hugging Face Hub's HTTP API, for tests and benchmarks: what
 * `@huggingface/hub` (listModels, modelInfo, datasetInfo, listFiles, pathsInfo, fileDownloadInfo,
 * downloadFile, createRepo, uploadFiles/commit, whoAmI) and transformers.js (`resolve` URLs) send,
 * answered as the Hub answers it (checked against the clients' source, not ours):
 *
 * - listings: `filter` tags (all must match), `search`, `author`, `limit`, `expand`; pages linked by
 *   `Link: <…cursor=…>; rel="next"` with absolute URLs;
 * - repo info at a revision (`/api/models/{id}/revision/{rev}`), `expand` picking the fields;
 *   renamed repos answer 307 to their new name (bert-base-uncased → google-bert/bert-base-uncased);
 * - `resolve/{rev}/{path}`: regular files with ETag (git blob id), Range and X-Repo-Commit; LFS files
 *   as a 302 to a CDN on another origin with X-Linked-Etag (the sha256) and X-Linked-Size; errors
 *   with X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound);
 * - the tree API (recursive, paged), paths-info, refs (with the `refs/convert/parquet` conversion);
 * - writes with a write token: repo creation, preupload, the LFS batch API (`basic` transfer: the
 *   client then PUTs to the CDN), and the ndjson commit.
 *
 * Hooks for tests: added latency per request, scripted faults (429/5xx with Retry-After), LFS objects
 * the CDN serves corrupted (a repo lying about its sha256), and a log of every request.
 */

export interface HubUser {
  readonly name: string;
  readonly orgs?: readonly string[];
  readonly role: 'read' | 'write';
}

export interface HubFault {
  readonly method?: string;
  /** Matched against the request's path and query. */
  readonly path: RegExp;
  readonly status: number;
  readonly headers?: Record<string, string>;
  /** How many matching requests fail; default 1. */
  times?: number;
}

export interface LoggedRequest {
  readonly server: 'hub' | 'cdn';
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly status: number;
}

export interface HubStandinOptions {
  /** Access tokens (`hf_…`) and whom they belong to. */
  readonly tokens?: Readonly<Record<string, HubUser>>;
  /** Added to every request of the Hub and the CDN, in ms. */
  latencyMs?: number;
  /** Most items per listing page, whatever `limit` asks (the Hub's cap is 1000). */
  readonly pageSize?: number;
  /** Most entries per tree page. */
  readonly treePageSize?: number;
}

export interface HubStandin {
  /** The Hub's origin, e.g. http://127.0.0.1:40123: what HF_ENDPOINT is set to. */
  readonly endpoint: string;
  /** The CDN's origin (another port: a different origin, as cdn-lfs.hf.co is). */
  readonly cdn: string;
  readonly store: RepoStore;
  readonly options: HubStandinOptions;
  readonly faults: HubFault[];
  /** sha256 of LFS objects the CDN serves with one byte flipped. */
  readonly corrupted: Set<string>;
  readonly requests: LoggedRequest[];
  /** The most requests answered at the same time (both servers). */
  readonly maxInFlight: number;
  close(): Promise<void>;
}

const MAX_BODY = 256 * 2 ** 20;

class HubError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

export async function startHubStandin(options: HubStandinOptions = {}): Promise<HubStandin> {
  const store = new RepoStore();
  const faults: HubFault[] = [];
  const corrupted = new Set<string>();
  const requests: LoggedRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const uploadTokens = new Set<string>();

  const hubServer = createServer();
  const cdnServer = createServer();
  await Promise.all([hubServer, cdnServer].map((server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))));
  const endpoint = `http://127.0.0.1:${(hubServer.address() as AddressInfo).port}`;
  const cdn = `http://127.0.0.1:${(cdnServer.address() as AddressInfo).port}`;

  const serve =
    (server: 'hub' | 'cdn', handler: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>) =>
    async (req: IncomingMessage, res: ServerResponse) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const url = new URL(req.url ?? '/', server === 'hub' ? endpoint : cdn);
      res.on('finish', () => {
        requests.push({
          server,
          method: req.method ?? 'GET',
          url: url.pathname + url.search,
          headers: {
            authorization: req.headers.authorization,
            range: req.headers.range,
            accept: req.headers.accept,
            'content-type': req.headers['content-type'],
          },
          status: res.statusCode,
        });
      });
      res.on('close', () => inFlight--);
      try {
        if (options.latencyMs) await new Promise((resolve) => setTimeout(resolve, options.latencyMs));
        const fault = faults.find((f) => (f.times ?? 1) > 0 && (!f.method || f.method === req.method) && f.path.test(url.pathname + url.search));
        if (fault) {
          fault.times = (fault.times ?? 1) - 1;
          await drain(req);
          sendJson(res, fault.status, { error: `injected fault ${fault.status}` }, fault.headers);
          return;
        }
        await handler(req, res, url);
      } catch (error) {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        if (error instanceof HubError) sendJson(res, error.status, { error: error.message }, error.code ? { 'X-Error-Code': error.code } : {});
        else sendJson(res, 500, { error: String((error as Error).message) });
      }
    };

  // --- authentication ---------------------------------------------------------------------------

  /** The caller, or null when anonymous; an unknown token is refused even for public resources, as the Hub does. */
  const caller = (req: IncomingMessage): HubUser | null => {
    const header = req.headers.authorization;
    if (!header) return null;
    const token = /^Bearer (.+)$/.exec(header)?.[1];
    const user = token ? options.tokens?.[token] : undefined;
    if (!user) throw new HubError(401, 'Invalid credentials in Authorization header');
    return user;
  };
  const owns = (user: HubUser | null, namespace: string) => !!user && (user.name === namespace || (user.orgs ?? []).includes(namespace));
  const canRead = (user: HubUser | null, repo: Repo) => !repo.private || owns(user, repo.id.split('/')[0]);
  const requireWrite = (user: HubUser | null, namespace: string) => {
    if (!user) throw new HubError(401, 'Invalid username or password.');
    if (user.role !== 'write' || !owns(user, namespace)) throw new HubError(403, `You don't have the rights to write under the namespace "${namespace}"`);
  };

  /** A repo the caller may read, following renames with a 307 as the Hub does; null when the response was a redirect. */
  const findRepo = (res: ServerResponse, url: URL, type: RepoType, id: string, user: HubUser | null): Repo | null => {
    const renamed = store.redirect(type, id);
    if (renamed) {
      const location = url.pathname.replace(`/${id}`, `/${renamed}`) + url.search;
      res.writeHead(307, { Location: location, 'Content-Type': 'application/json' }).end(JSON.stringify({ message: 'Redirected', url: location }));
      return null;
    }
    const repo = store.get(type, id);
    if (!repo || !canRead(user, repo)) throw new HubError(user ? 404 : 401, 'Repository not found', 'RepoNotFound');
    return repo;
  };

  /** Splits `ns/name/rest…` (or `name/rest…` for old canonical names) into the repo id and the rest. */
  const splitId = (type: RepoType, segments: string[], actions: readonly string[]): [string, string[]] => {
    const known = (id: string) => !!store.get(type, id) || !!store.redirect(type, id);
    if (segments.length >= 2 && known(`${segments[0]}/${segments[1]}`)) return [`${segments[0]}/${segments[1]}`, segments.slice(2)];
    if (known(segments[0]) || (segments.length >= 2 && actions.includes(segments[1]))) return [segments[0], segments.slice(1)];
    return [segments.slice(0, 2).join('/'), segments.slice(2)];
  };

  /** A revision given as one encoded segment (`refs%2Fconvert%2Fparquet`) or raw (`refs/convert/parquet/…`, as listFiles sends it). */
  const takeRevision = (repo: Repo, rest: string[]): [Commit, string[]] => {
    const raw = rest.join('/');
    const candidates = [...repo.branches.keys()].sort((a, b) => b.length - a.length);
    const branch = candidates.find((name) => raw === name || raw.startsWith(`${name}/`));
    const revision = branch ?? rest[0] ?? 'main';
    const commit = store.resolveRevision(repo, revision);
    if (!commit) throw new HubError(404, `Invalid rev id: ${revision}`, 'RevisionNotFound');
    const consumed = branch ? branch.split('/').length : 1;
    return [commit, rest.slice(consumed)];
  };

  // --- JSON views -------------------------------------------------------------------------------

  const repoJson = (repo: Repo, commit: Commit, fields: readonly string[] | null): Record<string, unknown> => {
    const config = commit.files.get('config.json');
    let configJson: unknown;
    if (config && !config.lfs) {
      try {
        const parsed = JSON.parse(config.blob.toString('utf8'));
        configJson = { architectures: parsed.architectures, model_type: parsed.model_type };
      } catch {
        configJson = undefined;
      }
    }
    const card = store.cardData(repo);
    const full: Record<string, unknown> = {
      _id: repo.objectId,
      id: repo.id,
      ...(repo.type === 'model' ? { modelId: repo.id } : {}),
      author: repo.id.includes('/') ? repo.id.split('/')[0] : undefined,
      sha: commit.oid,
      lastModified: commit.date.toISOString(),
      private: repo.private,
      disabled: false,
      gated: false,
      downloads: repo.downloads,
      likes: repo.likes,
      tags: store.tags(repo),
      ...(typeof card.library_name === 'string' ? { library_name: card.library_name } : {}),
      ...(typeof card.pipeline_tag === 'string' ? { pipeline_tag: card.pipeline_tag } : {}),
      ...(Object.keys(card).length ? { cardData: card } : {}),
      ...(configJson ? { config: configJson } : {}),
      siblings: [...commit.files.keys()].sort().map((rfilename) => ({ rfilename })),
      createdAt: repo.createdAt.toISOString(),
      usedStorage: [...commit.files.values()].reduce((sum, file) => sum + (file.lfs?.size ?? file.blob.length), 0),
    };
    if (!fields) return full;
    const picked: Record<string, unknown> = { _id: full._id, id: full.id };
    for (const field of fields) if (field in full) picked[field] = full[field];
    return picked;
  };

  const LIST_DEFAULT_FIELDS = ['likes', 'private', 'downloads', 'tags', 'pipeline_tag', 'library_name', 'createdAt', 'modelId'];

  const list = (res: ServerResponse, url: URL, type: RepoType, user: HubUser | null) => {
    const params = url.searchParams;
    const filters = params.getAll('filter');
    const search = params.get('search')?.toLowerCase();
    const author = params.get('author');
    const expand = params.getAll('expand');
    const limit = Math.max(1, Math.min(Number(params.get('limit') ?? 1000) || 1000, options.pageSize ?? 1000));
    const offset = Number(Buffer.from(params.get('cursor') ?? '', 'base64url').toString() || 0);
    const matching = [...store.repos.values()]
      .filter((repo) => repo.type === type && canRead(user, repo))
      .filter((repo) => !author || repo.id.split('/')[0] === author)
      .filter((repo) => !search || repo.id.toLowerCase().includes(search))
      .filter((repo) => {
        const tags = store.tags(repo);
        return filters.every((filter) => tags.includes(filter));
      })
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const page = matching.slice(offset, offset + limit);
    const headers: Record<string, string> = {};
    if (offset + limit < matching.length) {
      const next = new URL(url.pathname, endpoint);
      for (const [key, value] of params) if (key !== 'cursor') next.searchParams.append(key, value);
      next.searchParams.set('cursor', Buffer.from(String(offset + limit)).toString('base64url'));
      headers.Link = `<${next.href}>; rel="next"`;
    }
    sendJson(
      res,
      200,
      page.map((repo) => repoJson(repo, store.head(repo), expand.length ? expand : LIST_DEFAULT_FIELDS)),
      headers,
    );
  };

  const treeEntries = (commit: Commit, prefix: string, recursive: boolean) => {
    const entries = new Map<string, Record<string, unknown>>();
    const base = prefix ? `${prefix}/` : '';
    for (const file of commit.files.values()) {
      if (!file.path.startsWith(base)) continue;
      const rest = file.path.slice(base.length).split('/');
      // Directories on the way, then the file itself when it is within reach.
      for (let depth = 1; depth < rest.length && (recursive || depth === 1); depth++) {
        const path = base + rest.slice(0, depth).join('/');
        if (!entries.has(path)) entries.set(path, { type: 'directory', oid: sha256(Buffer.from(path)).slice(0, 40), size: 0, path });
      }
      if (recursive || rest.length === 1) entries.set(file.path, fileJson(file));
    }
    return [...entries.values()].sort((a, b) => ((a.path as string) < (b.path as string) ? -1 : 1));
  };

  const fileJson = (file: StoredFile) => ({
    type: 'file',
    oid: file.oid,
    size: file.lfs?.size ?? file.blob.length,
    ...(file.lfs ? { lfs: { oid: file.lfs.oid, size: file.lfs.size, pointerSize: file.lfs.pointerSize } } : {}),
    path: file.path,
  });

  // --- the Hub ----------------------------------------------------------------------------------

  const API_ACTIONS = ['revision', 'tree', 'paths-info', 'preupload', 'commit', 'refs'] as const;
  const FILE_ACTIONS = ['resolve', 'raw'] as const;

  hubServer.on(
    'request',
    serve('hub', async (req, res, url) => {
      const segments = url.pathname.split('/').slice(1).map(decodeURIComponent);
      const method = req.method ?? 'GET';
      const user = caller(req);

      if (segments[0] === 'api') {
        if (segments[1] === 'whoami-v2' && method === 'GET') {
          if (!user) throw new HubError(401, 'Invalid username or password.');
          return sendJson(res, 200, {
            type: 'user',
            id: sha256(Buffer.from(user.name)).slice(0, 24),
            name: user.name,
            fullname: user.name,
            orgs: (user.orgs ?? []).map((name) => ({ type: 'org', name })),
            auth: { type: 'access_token', accessToken: { displayName: 'token', role: user.role, createdAt: '2024-01-01T00:00:00.000Z' } },
          });
        }
        if (segments[1] === 'repos' && segments[2] === 'create' && method === 'POST') {
          const body = JSON.parse((await readBody(req)).toString('utf8') || '{}');
          const type: RepoType = body.type === 'dataset' ? 'dataset' : 'model';
          const namespace = body.organization ?? user?.name;
          requireWrite(user, namespace);
          const id = `${namespace}/${body.name}`;
          if (!/^[\w.-]+\/[\w.-]{1,96}$/.test(id) || id.includes('--') || id.includes('..')) throw new HubError(400, `Invalid repo name: ${id}`);
          if (store.get(type, id))
            return sendJson(res, 409, { error: `You already created this ${type} repo`, url: `${endpoint}/${type === 'model' ? '' : 'datasets/'}${id}` });
          const repo = store.create(type, id, { private: body.private === true || body.visibility === 'private' });
          if (Array.isArray(body.files) && body.files.length) {
            store.commit(repo, 'main', {
              title: 'Initial commit',
              files: Object.fromEntries(body.files.map((f: { path: string; content: string }) => [f.path, Buffer.from(f.content, 'base64')])),
            });
          }
          return sendJson(res, 200, { url: `${endpoint}/${type === 'model' ? '' : 'datasets/'}${id}`, name: id, id: repo.objectId });
        }
        const type = segments[1] === 'models' ? 'model' : segments[1] === 'datasets' ? 'dataset' : null;
        if (!type) throw new HubError(404, 'Not found');
        if (segments.length === 2 && method === 'GET') return list(res, url, type, user);
        const [id, rest] = splitId(type, segments.slice(2), API_ACTIONS);
        const repo = findRepo(res, url, type, id, user);
        if (!repo) return;
        const action = rest[0];
        if (action === undefined || action === 'revision') {
          const [commit] = action === undefined ? [store.head(repo)] : takeRevision(repo, rest.slice(1));
          const expand = url.searchParams.getAll('expand');
          return sendJson(res, 200, repoJson(repo, commit, expand.length ? expand : null));
        }
        if (action === 'tree' && method === 'GET') {
          const [commit, path] = takeRevision(repo, rest.slice(1));
          const prefix = path.join('/');
          if (prefix && ![...commit.files.keys()].some((p) => p.startsWith(`${prefix}/`)))
            throw new HubError(404, `Entry not found: ${prefix}`, 'EntryNotFound');
          const all = treeEntries(commit, prefix, url.searchParams.get('recursive') === 'true');
          const size = options.treePageSize ?? 1000;
          const offset = Number(Buffer.from(url.searchParams.get('cursor') ?? '', 'base64url').toString() || 0);
          const headers: Record<string, string> = {};
          if (offset + size < all.length) {
            const next = new URL(url.pathname, endpoint);
            for (const [key, value] of url.searchParams) if (key !== 'cursor') next.searchParams.append(key, value);
            next.searchParams.set('cursor', Buffer.from(String(offset + size)).toString('base64url'));
            headers.Link = `<${next.href}>; rel="next"`;
          }
          return sendJson(res, 200, all.slice(offset, offset + size), headers);
        }
        if (action === 'paths-info' && method === 'POST') {
          const [commit] = takeRevision(repo, rest.slice(1));
          const body = await readPathsInfoBody(req);
          return sendJson(
            res,
            200,
            body.flatMap((path) => (commit.files.has(path) ? [fileJson(commit.files.get(path)!)] : [])),
          );
        }
        if (action === 'refs' && method === 'GET') {
          const branches = [...repo.branches].filter(([name]) => !name.startsWith('refs/'));
          const converts = [...repo.branches].filter(([name]) => name.startsWith('refs/convert/'));
          return sendJson(res, 200, {
            branches: branches.map(([name, oid]) => ({ name, ref: `refs/heads/${name}`, targetCommit: oid })),
            tags: [],
            converts: converts.map(([name, oid]) => ({ name: name.split('/').pop(), ref: name, targetCommit: oid })),
          });
        }
        if (action === 'preupload' && method === 'POST') {
          requireWrite(user, repo.id.split('/')[0]);
          const [commit] = takeRevision(repo, rest.slice(1));
          const body = JSON.parse((await readBody(req)).toString('utf8'));
          return sendJson(res, 200, {
            files: body.files.map((file: { path: string; size: number; sample: string }) => ({
              path: file.path,
              uploadMode: uploadMode(file.path, file.size, Buffer.from(file.sample, 'base64')),
              shouldIgnore: false,
              ...(commit.files.has(file.path) ? { oid: commit.files.get(file.path)!.oid } : {}),
            })),
            commitOid: commit.oid,
          });
        }
        if (action === 'commit' && method === 'POST') {
          requireWrite(user, repo.id.split('/')[0]);
          const branch = rest.slice(1).join('/') || 'main';
          const lines = (await readBody(req))
            .toString('utf8')
            .split('\n')
            .filter((line) => line.trim())
            .map((line) => JSON.parse(line) as { key: string; value: Record<string, unknown> });
          const header = lines.find((line) => line.key === 'header')?.value ?? {};
          if (header.parentCommit && header.parentCommit !== repo.branches.get(branch))
            throw new HubError(412, 'A commit has happened since. Please refresh and try again.');
          const files: Record<string, Buffer> = {};
          const lfs: Record<string, string> = {};
          const deleted: string[] = [];
          for (const { key, value } of lines) {
            if (key === 'file') files[value.path as string] = Buffer.from(value.content as string, value.encoding === 'base64' ? 'base64' : 'utf8');
            else if (key === 'lfsFile') {
              if (!store.objects.has(value.oid as string))
                throw new HubError(400, `Your push was rejected because an LFS pointer pointed to a file that does not exist (${value.path})`);
              lfs[value.path as string] = value.oid as string;
            } else if (key === 'deletedFile' || key === 'deletedFolder') deleted.push(value.path as string);
          }
          const commit = store.commit(repo, branch, { title: String(header.summary ?? 'Upload files'), files, lfs, deleted });
          return sendJson(res, 200, {
            success: true,
            commitOid: commit.oid,
            commitUrl: `${endpoint}/${repo.type === 'model' ? '' : 'datasets/'}${repo.id}/commit/${commit.oid}`,
            hookOutput: '',
          });
        }
        throw new HubError(404, 'Not found');
      }

      // Git LFS batch API: /{id}.git/info/lfs/objects/batch (datasets under /datasets/).
      const lfsAt = segments.findIndex((s) => s.endsWith('.git'));
      if (lfsAt >= 0 && segments.slice(lfsAt + 1).join('/') === 'info/lfs/objects/batch' && method === 'POST') {
        const type: RepoType = segments[0] === 'datasets' ? 'dataset' : 'model';
        const idSegments = segments.slice(type === 'dataset' ? 1 : 0, lfsAt + 1);
        idSegments[idSegments.length - 1] = idSegments[idSegments.length - 1].slice(0, -4);
        const repo = findRepo(res, url, type, idSegments.join('/'), user);
        if (!repo) return;
        requireWrite(user, repo.id.split('/')[0]);
        const body = JSON.parse((await readBody(req)).toString('utf8'));
        const objects = body.objects.map((object: { oid: string; size: number }) => {
          if (store.objects.has(object.oid)) return { oid: object.oid, size: object.size };
          const token = randomBytes(12).toString('hex');
          uploadTokens.add(token);
          return {
            oid: object.oid,
            size: object.size,
            authenticated: true,
            actions: { upload: { href: `${cdn}/upload/${object.oid}?X-Amz-Signature=${token}`, expires_at: '2099-01-01T00:00:00Z' } },
          };
        });
        return sendJson(res, 200, { transfer: 'basic', objects }, {}, 'application/vnd.git-lfs+json');
      }

      // Files: /{id}/resolve/{rev}/{path} and /datasets/{id}/resolve/…, `raw` likewise.
      const type: RepoType = segments[0] === 'datasets' ? 'dataset' : 'model';
      const [id, rest] = splitId(type, segments.slice(type === 'dataset' ? 1 : 0), FILE_ACTIONS);
      if (!FILE_ACTIONS.includes(rest[0] as (typeof FILE_ACTIONS)[number]) || (method !== 'GET' && method !== 'HEAD')) throw new HubError(404, 'Not found');
      const repo = findRepo(res, url, type, id, user);
      if (!repo) return;
      const commit = store.resolveRevision(repo, rest[1] ?? '');
      if (!commit) throw new HubError(404, `Invalid rev id: ${rest[1]}`, 'RevisionNotFound');
      const file = commit.files.get(rest.slice(2).join('/'));
      if (!file) throw new HubError(404, 'Entry not found', 'EntryNotFound');
      const common = { 'X-Repo-Commit': commit.oid, 'Access-Control-Expose-Headers': 'X-Repo-Commit,X-Linked-Size,X-Linked-ETag,ETag' };
      if (file.lfs && rest[0] === 'resolve') {
        repo.downloads++;
        res
          .writeHead(302, {
            ...common,
            Location: `${cdn}/lfs/${file.lfs.oid}?X-Amz-Signature=${randomBytes(8).toString('hex')}`,
            ETag: `"${file.oid}"`,
            'X-Linked-ETag': `"${file.lfs.oid}"`,
            'X-Linked-Size': String(file.lfs.size),
            'Content-Length': '0',
          })
          .end();
        return;
      }
      sendBytes(req, res, file.blob, { ...common, ETag: `"${file.oid}"` });
    }),
  );

  // --- the CDN ----------------------------------------------------------------------------------

  cdnServer.on(
    'request',
    serve('cdn', async (req, res, url) => {
      const [kind, oid] = url.pathname.split('/').slice(1);
      if (kind === 'lfs' && (req.method === 'GET' || req.method === 'HEAD')) {
        const object = store.objects.get(oid);
        if (!object) throw new HubError(404, 'NoSuchKey');
        let content = object;
        if (corrupted.has(oid)) {
          content = Buffer.from(object);
          content[content.length >> 1] ^= 0xff;
        }
        return sendBytes(req, res, content, { ETag: `"${oid.slice(0, 32)}"`, 'Content-Type': 'application/octet-stream' });
      }
      if (kind === 'upload' && req.method === 'PUT') {
        if (!uploadTokens.has(url.searchParams.get('X-Amz-Signature') ?? '')) throw new HubError(403, 'SignatureDoesNotMatch');
        const body = await readBody(req);
        // A presigned PUT stores whatever it is sent; an object whose bytes are not its sha256 is simply
        // never found by the commit that names it.
        if (sha256(body) === oid) store.objects.set(oid, body);
        res.writeHead(200, { ETag: `"${sha256(body).slice(0, 32)}"` }).end();
        return;
      }
      throw new HubError(404, 'Not found');
    }),
  );

  return {
    endpoint,
    cdn,
    store,
    options,
    faults,
    corrupted,
    requests,
    get maxInFlight() {
      return maxInFlight;
    },
    async close() {
      await Promise.all(
        [hubServer, cdnServer].map(
          (server: Server) =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        ),
      );
    },
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, type = 'application/json; charset=utf-8'): void {
  const text = JSON.stringify(body);
  res
    .writeHead(status, { 'Content-Type': type, 'Content-Length': String(Buffer.byteLength(text)), 'X-Request-Id': randomBytes(6).toString('hex'), ...headers })
    .end(text);
}

/** 200 with the whole content, or 206 for a `Range: bytes=a-b` / `a-` / `-n`; 416 outside it. */
function sendBytes(req: IncomingMessage, res: ServerResponse, content: Buffer, headers: Record<string, string>): void {
  const base = { 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream', ...headers };
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
  if (!range || (range[1] === '' && range[2] === '')) {
    res.writeHead(200, { ...base, 'Content-Length': String(content.length) });
    res.end(req.method === 'HEAD' ? undefined : content);
    return;
  }
  let start: number;
  let end: number;
  if (range[1] === '') {
    start = Math.max(0, content.length - Number(range[2]));
    end = content.length - 1;
  } else {
    start = Number(range[1]);
    end = range[2] === '' ? content.length - 1 : Math.min(Number(range[2]), content.length - 1);
  }
  if (start >= content.length || start > end) {
    res.writeHead(416, { ...base, 'Content-Range': `bytes */${content.length}` }).end();
    return;
  }
  res.writeHead(206, { ...base, 'Content-Range': `bytes ${start}-${end}/${content.length}`, 'Content-Length': String(end - start + 1) });
  res.end(req.method === 'HEAD' ? undefined : content.subarray(start, end + 1));
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HubError(413, 'Payload too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function drain(req: IncomingMessage): Promise<void> {
  for await (const _ of req);
}

/** paths-info takes JSON (`@huggingface/hub`) or a form (`huggingface_hub`): `paths` repeated. */
async function readPathsInfoBody(req: IncomingMessage): Promise<string[]> {
  const text = (await readBody(req)).toString('utf8');
  if ((req.headers['content-type'] ?? '').includes('json')) {
    const paths = JSON.parse(text).paths;
    return Array.isArray(paths) ? paths : [paths];
  }
  return new URLSearchParams(text).getAll('paths');
}
