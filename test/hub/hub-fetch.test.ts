import { modelInfo } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubOfflineError, hubConfig } from '../../src/hub/config.js';
import { createHubFetch, retryAfterMs } from '../../src/hub/fetch.js';
import { esmWeightsFile, publishEsm } from '../helpers/hub/seed.js';
import { type HubStandin, startHubStandin } from '../helpers/hub/standin.js';
import { esmConfig } from '../helpers/pool.js';

const TOKEN = 'hf_test';
let hub: HubStandin;
beforeAll(async () => {
  hub = await startHubStandin({ tokens: { [TOKEN]: { name: 'alice', role: 'write' } } });
  publishEsm(hub, { repoId: 'alice/esm', config: esmConfig('t', 4), weights: esmWeightsFile(new Float32Array(16), new Float32Array(4)) });
});
afterAll(() => hub.close());

const config = () => hubConfig({ HF_ENDPOINT: hub.endpoint, HF_TOKEN: TOKEN });
const infoPath = /^\/api\/models\/alice\/esm\//;

describe('hubConfig', () => {
  it("reads the Hub clients' variables, with the public Hub as the default", () => {
    expect(hubConfig({})).toEqual({ endpoint: 'https://huggingface.co', token: undefined, offline: false });
    expect(hubConfig({ HF_ENDPOINT: 'http://127.0.0.1:9/', HF_TOKEN: ' hf_x ', HF_HUB_OFFLINE: 'true' })).toEqual({
      endpoint: 'http://127.0.0.1:9',
      token: 'hf_x',
      offline: true,
    });
    expect(() => hubConfig({ HF_ENDPOINT: 'ftp://x' })).toThrow(/HF_ENDPOINT/);
  });
});

describe('the Hub fetch', () => {
  it('retries 429 and 5xx, honouring Retry-After, and reports each retry without the token', async () => {
    hub.faults.push({ path: infoPath, status: 429, headers: { 'Retry-After': '0' }, times: 1 }, { path: infoPath, status: 503, times: 2 });
    const retries: { status: number | null; delayMs: number; url: string }[] = [];
    const hubFetch = createHubFetch(config(), { baseDelayMs: 1, random: () => 1, onRetry: (r) => retries.push(r) });
    const info = await modelInfo({ hubUrl: hub.endpoint, name: 'alice/esm', accessToken: TOKEN, fetch: hubFetch });
    expect(info.name).toBe('alice/esm');
    expect(retries.map((r) => [r.status, r.delayMs])).toEqual([
      [429, 0],
      // Backoff doubles with each attempt, the 429 counted: 1 ms · 2¹, then 2².
      [503, 2],
      [503, 4],
    ]);
    expect(JSON.stringify(retries)).not.toContain(TOKEN);
  });

  it('gives up after its attempts and returns the last answer', async () => {
    hub.faults.push({ path: infoPath, status: 502, times: 10 });
    const hubFetch = createHubFetch(config(), { attempts: 3, baseDelayMs: 1 });
    const response = await hubFetch(`${hub.endpoint}/api/models/alice/esm/revision/main`);
    expect(response.status).toBe(502);
    expect(hub.faults.at(-1)!.times).toBe(7);
    hub.faults.length = 0;
  });

  it('retries a POST only when the Hub says it was not processed (429)', async () => {
    const post = /^\/api\/models\/alice\/esm\/paths-info\//;
    hub.faults.push({ path: post, status: 503, times: 1 });
    const hubFetch = createHubFetch(config(), { baseDelayMs: 1 });
    const url = `${hub.endpoint}/api/models/alice/esm/paths-info/main`;
    const body = JSON.stringify({ paths: ['config.json'] });
    expect((await hubFetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } })).status).toBe(503);
    hub.faults.push({ path: post, status: 429, headers: { 'Retry-After': '0' }, times: 1 });
    expect((await hubFetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } })).status).toBe(200);
  });

  it('never sends the token to another origin', async () => {
    const hubFetch = createHubFetch(config());
    const before = hub.requests.length;
    await hubFetch(`${hub.cdn}/lfs/none`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    await hubFetch(`${hub.endpoint}/api/models/alice/esm`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    const sent = hub.requests.slice(before);
    expect(sent.map((r) => [r.server, r.headers.authorization])).toEqual([
      ['cdn', undefined],
      ['hub', `Bearer ${TOKEN}`],
    ]);
  });

  it('refuses every request when HF_HUB_OFFLINE is set, before touching the network', async () => {
    const before = hub.requests.length;
    const hubFetch = createHubFetch(hubConfig({ HF_ENDPOINT: hub.endpoint, HF_HUB_OFFLINE: '1' }));
    await expect(hubFetch(`${hub.endpoint}/api/models/alice/esm`)).rejects.toBeInstanceOf(HubOfflineError);
    expect(hub.requests.length).toBe(before);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(retryAfterMs('soon')).toBeUndefined();
  });
});
