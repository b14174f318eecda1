import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRepo, downloadFile, fileDownloadInfo, HubApiError, listFiles, listModels, modelInfo, pathsInfo, uploadFiles, whoAmI } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config.js';
import { sha256 } from '../helpers/hub/repos.js';
import { addParquetConversion, esmWeightsFile, publishEsm, publishFolder } from '../helpers/hub/seed.js';
import { type HubStandin, startHubStandin } from '../helpers/hub/standin.js';
import { esmConfig } from '../helpers/pool.js';

/**
 * The stand-in is only worth its tests if the real clients can talk to it: these drive it with
 * @huggingface/hub and transformers.js exactly as the product does, and check what the Hub would answer.
 */
const WRITE_TOKEN = 'hf_writer';
const READ_TOKEN = 'hf_reader';

let hub: HubStandin;
beforeAll(async () => {
  hub = await startHubStandin({
    tokens: { [WRITE_TOKEN]: { name: 'alice', orgs: ['lab'], role: 'write' }, [READ_TOKEN]: { name: 'bob', role: 'read' } },
    pageSize: 3,
  });
  hub.store.create('model', 'google-bert/bert-base-uncased');
  hub.store.rename('model', 'bert-base-uncased', 'google-bert/bert-base-uncased');
  for (let i = 0; i < 7; i++) {
    const dim = 4;
    const weight = new Float32Array(dim * dim).map((_, j) => (j % (dim + 1) === 0 ? 1 : 0.01 * i));
    // Published with the old name, as many hfselect ESMs are: the Hub tags them with the current one.
    publishEsm(hub, {
      repoId: `esms/task-${i}`,
      config: esmConfig(`task-${i}`, dim, { base_model_name: i < 5 ? 'bert-base-uncased' : 'other/model' }),
      weights: esmWeightsFile(weight, new Float32Array(dim)),
    });
  }
});
afterAll(() => hub.close());

describe('the Hub stand-in, driven by @huggingface/hub', () => {
  it('lists by tags across Link-paged results and derives base_model tags from the card with the current name', async () => {
    const names: string[] = [];
    for await (const model of listModels({
      hubUrl: hub.endpoint,
      search: { tags: ['embedding_space_map', 'base_model:google-bert/bert-base-uncased'] },
      additionalFields: ['tags', 'sha'],
    })) {
      names.push(model.name);
      expect(model.tags).toContain('base_model:finetune:google-bert/bert-base-uncased');
      expect(model.sha).toMatch(/^[0-9a-f]{40}$/);
    }
    expect(names).toEqual(['esms/task-0', 'esms/task-1', 'esms/task-2', 'esms/task-3', 'esms/task-4']);
    // Five results at three per page: two pages, the second reached through the Link header.
    expect(hub.requests.filter((r) => r.url.startsWith('/api/models?')).length).toBe(2);
  });

  it('follows a renamed model to its current name', async () => {
    const info = await modelInfo({ hubUrl: hub.endpoint, name: 'bert-base-uncased' });
    expect(info.name).toBe('google-bert/bert-base-uncased');
  });

  it('serves an LFS file through a 302 to the CDN, announcing its sha256 and size; the token never reaches the CDN', async () => {
    const info = await fileDownloadInfo({ hubUrl: hub.endpoint, repo: 'esms/task-3', path: 'model.safetensors', accessToken: READ_TOKEN });
    const blob = await downloadFile({ hubUrl: hub.endpoint, repo: 'esms/task-3', path: 'model.safetensors', accessToken: READ_TOKEN });
    const bytes = Buffer.from(await blob!.arrayBuffer());
    expect(info!.size).toBe(bytes.length);
    // The redirect announces the object (fetch follows it, so the client sees the CDN's own ETag) ...
    const redirect = await fetch(`${hub.endpoint}/esms/task-3/resolve/main/model.safetensors`, { redirect: 'manual' });
    expect([redirect.status, redirect.headers.get('x-linked-etag'), redirect.headers.get('x-linked-size')]).toEqual([
      302,
      `"${sha256(bytes)}"`,
      String(bytes.length),
    ]);
    // ... and so does the tree API, the place a client reads the sha256 from before downloading.
    const [entry] = await pathsInfo({ hubUrl: hub.endpoint, repo: 'esms/task-3', paths: ['model.safetensors'] });
    expect(entry.lfs?.oid).toBe(sha256(bytes));
    expect(Buffer.from(await blob!.slice(8, 16).arrayBuffer())).toEqual(bytes.subarray(8, 16));
    const cdnRequests = hub.requests.filter((r) => r.server === 'cdn');
    expect(cdnRequests.length).toBeGreaterThan(0);
    expect(cdnRequests.every((r) => r.headers.authorization === undefined)).toBe(true);
    const raw = await fetch(`${hub.endpoint}/esms/task-3/resolve/main/config.json`);
    expect(raw.headers.get('x-repo-commit')).toMatch(/^[0-9a-f]{40}$/);
    expect(JSON.parse(await raw.text()).task_id).toBe('task-3');
  });

  it('answers a missing file, revision and repo with the Hub error codes', async () => {
    expect(await fileDownloadInfo({ hubUrl: hub.endpoint, repo: 'esms/task-3', path: 'nope.bin' })).toBeNull();
    const revision = await fetch(`${hub.endpoint}/esms/task-3/resolve/v9/config.json`);
    expect([revision.status, revision.headers.get('x-error-code')]).toEqual([404, 'RevisionNotFound']);
    const repo = await fetch(`${hub.endpoint}/esms/none/resolve/main/config.json`);
    expect([repo.status, repo.headers.get('x-error-code')]).toEqual([401, 'RepoNotFound']);
    await expect(modelInfo({ hubUrl: hub.endpoint, name: 'esms/task-3', accessToken: 'hf_unknown' })).rejects.toMatchObject({ statusCode: 401 });
  });

  it('creates a repo and commits an LFS and a regular file with a write token; the listing then finds it', async () => {
    const weights = esmWeightsFile(new Float32Array(16).fill(0.5), new Float32Array(4));
    await createRepo({ hubUrl: hub.endpoint, repo: 'lab/new-esm', accessToken: WRITE_TOKEN });
    const card = '---\nbase_model: bert-base-uncased\ntags:\n- embedding_space_map\n---\n# ESM\n';
    const commit = await uploadFiles({
      hubUrl: hub.endpoint,
      repo: 'lab/new-esm',
      accessToken: WRITE_TOKEN,
      files: [
        { path: 'model.safetensors', content: new Blob([weights]) },
        { path: 'config.json', content: new Blob([JSON.stringify(esmConfig('new', 4))]) },
        { path: 'README.md', content: new Blob([card]) },
      ],
    });
    expect(commit?.commit.oid).toMatch(/^[0-9a-f]{40}$/);
    // The LFS object went through the batch API and a PUT to the CDN, not into the commit.
    expect(hub.requests.some((r) => r.url === '/lab/new-esm.git/info/lfs/objects/batch')).toBe(true);
    expect(hub.requests.some((r) => r.server === 'cdn' && r.method === 'PUT')).toBe(true);
    const [file] = await pathsInfo({ hubUrl: hub.endpoint, repo: 'lab/new-esm', paths: ['model.safetensors'] });
    expect(file.lfs?.oid).toBe(sha256(weights));
    const found: string[] = [];
    for await (const model of listModels({
      hubUrl: hub.endpoint,
      search: { tags: ['embedding_space_map', 'base_model:google-bert/bert-base-uncased'], owner: 'lab' },
    }))
      found.push(model.name);
    expect(found).toEqual(['lab/new-esm']);
  });

  it("refuses writes without a token, with a read token and outside the token owner's namespaces", async () => {
    await expect(createRepo({ hubUrl: hub.endpoint, repo: 'lab/x', accessToken: READ_TOKEN })).rejects.toMatchObject({ statusCode: 403 });
    await expect(createRepo({ hubUrl: hub.endpoint, repo: 'carol/x', accessToken: WRITE_TOKEN })).rejects.toMatchObject({ statusCode: 403 });
    await expect(createRepo({ hubUrl: hub.endpoint, repo: 'lab/new-esm', accessToken: WRITE_TOKEN })).rejects.toMatchObject({ statusCode: 409 });
    expect((await whoAmI({ hubUrl: hub.endpoint, accessToken: WRITE_TOKEN })).name).toBe('alice');
    await expect(whoAmI({ hubUrl: hub.endpoint, accessToken: 'hf_unknown' })).rejects.toBeInstanceOf(HubApiError);
  });

  it('hides private repos from anyone but their owner', async () => {
    publishEsm(hub, {
      repoId: 'alice/secret',
      config: esmConfig('secret', 4),
      weights: esmWeightsFile(new Float32Array(16), new Float32Array(4)),
      private: true,
    });
    await expect(modelInfo({ hubUrl: hub.endpoint, name: 'alice/secret' })).rejects.toMatchObject({ statusCode: 401 });
    await expect(modelInfo({ hubUrl: hub.endpoint, name: 'alice/secret', accessToken: READ_TOKEN })).rejects.toMatchObject({ statusCode: 404 });
    expect((await modelInfo({ hubUrl: hub.endpoint, name: 'alice/secret', accessToken: WRITE_TOKEN })).private).toBe(true);
  });

  it('lists and serves the Parquet conversion of a dataset on refs/convert/parquet', async () => {
    addParquetConversion(hub, 'org/reviews', 'default', 'train', [Buffer.from('PAR1-first'), Buffer.from('PAR1-second')]);
    const paths: string[] = [];
    for await (const entry of listFiles({ hubUrl: hub.endpoint, repo: 'datasets/org/reviews', revision: 'refs/convert/parquet', recursive: true })) {
      if (entry.type === 'file') paths.push(entry.path);
    }
    expect(paths).toEqual(['default/train/0000.parquet', 'default/train/0001.parquet']);
    const blob = await downloadFile({
      hubUrl: hub.endpoint,
      repo: 'datasets/org/reviews',
      revision: 'refs/convert/parquet',
      path: 'default/train/0001.parquet',
    });
    expect(await blob!.text()).toBe('PAR1-second');
  });
});

describe('the Hub stand-in, driven by transformers.js', () => {
  it('serves a model folder that AutoTokenizer downloads through its resolve URLs', async () => {
    await publishFolder(hub, 'model', 'org/tiny-bert', join(PACKAGE_ROOT, 'models', 'tiny-bert'));
    const { AutoTokenizer, env } = await import('@huggingface/transformers');
    const saved = { remoteHost: env.remoteHost, allowRemoteModels: env.allowRemoteModels, allowLocalModels: env.allowLocalModels, cacheDir: env.cacheDir };
    try {
      Object.assign(env, {
        remoteHost: `${hub.endpoint}/`,
        allowRemoteModels: true,
        allowLocalModels: false,
        cacheDir: mkdtempSync(join(tmpdir(), 'hub-cache-')),
      });
      const tokenizer = await AutoTokenizer.from_pretrained('org/tiny-bert');
      const vocab = JSON.parse(await readFile(join(PACKAGE_ROOT, 'models', 'tiny-bert', 'tokenizer.json'), 'utf8')).model.vocab as Record<string, number>;
      const [word, id] = Object.entries(vocab).find(([piece]) => /^[a-z]{3,}$/.test(piece))!;
      expect(tokenizer.encode(word)).toEqual([vocab['[CLS]'], id, vocab['[SEP]']]);
      expect(hub.requests.some((r) => r.url === '/org/tiny-bert/resolve/main/tokenizer.json' && r.status === 200)).toBe(true);
    } finally {
      Object.assign(env, saved);
    }
  });
});

describe('the Hub stand-in, its test hooks', () => {
  it('fails scripted requests with Retry-After, and serves a corrupted object under the announced sha256', async () => {
    hub.faults.push({ path: /^\/api\/models\/esms\/task-1\//, status: 429, headers: { 'Retry-After': '1' }, times: 1 });
    const first = await fetch(`${hub.endpoint}/api/models/esms/task-1/revision/main`);
    expect([first.status, first.headers.get('retry-after')]).toEqual([429, '1']);
    expect((await fetch(`${hub.endpoint}/api/models/esms/task-1/revision/main`)).status).toBe(200);

    const info = await fileDownloadInfo({ hubUrl: hub.endpoint, repo: 'esms/task-1', path: 'model.safetensors' });
    const announced = info!.etag.replaceAll('"', '');
    hub.corrupted.add(announced);
    const blob = await downloadFile({ hubUrl: hub.endpoint, repo: 'esms/task-1', path: 'model.safetensors' });
    expect(sha256(Buffer.from(await blob!.arrayBuffer()))).not.toBe(announced);
    hub.corrupted.delete(announced);
  });
});
