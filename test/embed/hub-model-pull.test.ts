import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TextEmbedder } from '../../src/embed/embedder.js';
import { ensureModel, type PullModelOptions, pullModel } from '../../src/embed/pull-model.js';
import { readModelFolder } from '../../src/finetune/checkpoint.js';
import { hubClient } from '../../src/hub/client.js';
import { hubConfig } from '../../src/hub/config.js';
import { downloadVerified } from '../../src/hub/verified-download.js';
import { parseSafetensors } from '../../src/io/safetensors.js';
import { MODELS_ROOT } from '../helpers/finetune.js';
import { withoutOutputs } from '../helpers/hub/onnx.js';
import { sha256 } from '../helpers/hub/repos.js';
import { publishFolder } from '../helpers/hub/seed.js';
import { type HubStandin, startHubStandin } from '../helpers/hub/standin.js';

const TEXTS = [
  'the movie was great and the acting was excellent',
  'bad food [SEP] good service',
  'hello',
  'a very long text about nothing in particular '.repeat(30),
];

let hub: HubStandin;
let scratch: string;
/** tiny-bert as the Hub has BERT: an ONNX export that stops at last_hidden_state, the full checkpoint beside. */
let published: string;
let weightsOid: string;
let onnxOid: string;

beforeAll(async () => {
  hub = await startHubStandin();
  scratch = await mkdtemp(join(tmpdir(), 'esmselect-model-pull-'));
  published = join(scratch, 'published');
  await cp(join(MODELS_ROOT, 'tiny-bert'), published, { recursive: true });
  const onnx = withoutOutputs(await readFile(join(published, 'onnx', 'model.onnx')), ['pooler_output']);
  await writeFile(join(published, 'onnx', 'model.onnx'), onnx);
  onnxOid = sha256(onnx);
  weightsOid = sha256(await readFile(join(published, 'model.safetensors')));
  await publishFolder(hub, 'model', 'google-bert/tiny-bert', published);
  // The old canonical name, as bert-base-uncased now redirects to google-bert/bert-base-uncased.
  hub.store.rename('model', 'tiny-bert', 'google-bert/tiny-bert');

  // A checkpoint without ONNX, and a community conversion that holds only the ONNX graph.
  const bare = join(scratch, 'bare');
  await cp(published, bare, { recursive: true });
  await rm(join(bare, 'onnx'), { recursive: true });
  await publishFolder(hub, 'model', 'org/tiny-bert-bare', bare);
  const conversion = join(scratch, 'conversion');
  await mkdir(join(conversion, 'onnx'), { recursive: true });
  await writeFile(join(conversion, 'onnx', 'model.onnx'), onnx);
  await publishFolder(hub, 'model', 'Xenova/tiny-bert-bare', conversion);
});
afterAll(async () => {
  await hub.close();
  await rm(scratch, { recursive: true, force: true });
});

async function freshModelsDir(): Promise<string> {
  return mkdtemp(join(scratch, 'models-'));
}

function options(modelsDir: string, extra: Partial<PullModelOptions> = {}): PullModelOptions {
  return { modelsDir, hub: hubClient('test', { endpoint: hub.endpoint, offline: false }, { baseDelayMs: 1 }), ...extra };
}

async function embed(name: string, modelsDir: string): Promise<Float32Array> {
  const embedder = await TextEmbedder.load(name, { modelsDir, allowRemote: false });
  try {
    return (await embedder.embed(TEXTS)).data;
  } finally {
    await embedder.dispose();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  return Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i])));
}

/** The byte ranges asked of the CDN for an LFS object, or 'whole' for a request without Range. */
function cdnRanges(oid: string): ('whole' | number)[] {
  return hub.requests
    .filter((r) => r.server === 'cdn' && r.url.startsWith(`/lfs/${oid}`))
    .map((r) => {
      const match = /^bytes=(\d+)-(\d+)$/.exec(r.headers.range ?? '');
      return match ? Number(match[2]) - Number(match[1]) + 1 : 'whole';
    });
}

describe('model pull', () => {
  it('fills models/NAME under the name asked for, and embeds offline exactly as the local model does, the pooler read by range requests only', async () => {
    const modelsDir = await freshModelsDir();
    const notes: string[] = [];
    const pulled = await pullModel('tiny-bert', options(modelsDir, { onNote: (n) => notes.push(n) }));
    expect(pulled.folder).toBe(join(modelsDir, 'tiny-bert'));
    expect(notes).toContain('tiny-bert is google-bert/tiny-bert on the Hub; the folder keeps the name tiny-bert');
    expect(pulled.record).toMatchObject({ requested: 'tiny-bert', repo: 'google-bert/tiny-bert', pooler: 'pooler.safetensors', weights: false });
    expect(pulled.record.onnx?.repo).toBe('google-bert/tiny-bert');
    const files = (await readdir(pulled.folder, { recursive: true })).sort();
    expect(files).toEqual([
      'config.json',
      'hub-pull.json',
      'onnx',
      'onnx/model.onnx',
      'pooler.safetensors',
      'special_tokens_map.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'vocab.txt',
    ]);
    // Only the pooler's tensors, as F32.
    const pooler = parseSafetensors(await readFile(join(pulled.folder, 'pooler.safetensors')));
    expect([...pooler.tensors.keys()]).toEqual(['pooler.dense.weight', 'pooler.dense.bias']);

    // The ONNX graph has no pooler_output: the embedder applies the pulled pooler, and matches the
    // local fixture, whose graph computes pooler_output itself.
    const ours = await embed('tiny-bert', modelsDir);
    const local = await embed('tiny-bert', MODELS_ROOT);
    expect(maxAbsDiff(ours, local)).toBeLessThan(1e-5);
    // ... and needs it: without pooler.safetensors the folder cannot be pooled.
    const copy = join(modelsDir, 'without-pooler');
    await cp(pulled.folder, copy, { recursive: true });
    await rm(join(copy, 'pooler.safetensors'));
    await expect(TextEmbedder.load('without-pooler', { modelsDir, allowRemote: false })).rejects.toThrow(/onnx\/model\.onnx has no pooler_output/);

    // model.safetensors (149 KB) was read by range requests only: the size probe, the 8-byte length,
    // the header, the two pooler tensors; never whole.
    const ranges = cdnRanges(weightsOid);
    expect(ranges).not.toContain('whole');
    expect(ranges).toContain(32 * 32 * 4);
    expect(ranges).toContain(32 * 4);
    const fileSize = (await stat(join(MODELS_ROOT, 'tiny-bert', 'model.safetensors'))).size;
    expect((ranges as number[]).reduce((a, b) => a + b, 0)).toBeLessThan(fileSize / 10);
    // The ONNX graph was downloaded whole and verified (no leftovers).
    expect(cdnRanges(onnxOid)).toContain('whole');
    expect(await readdir(join(modelsDir, '.partial'))).toEqual([]);
  });

  it('takes the ONNX graph from --onnx-repo when the model has none, and refuses without it in one line', async () => {
    const modelsDir = await freshModelsDir();
    await expect(pullModel('org/tiny-bert-bare', options(modelsDir))).rejects.toThrow(
      /^model: org\/tiny-bert-bare has no onnx\/model\.onnx; give --onnx-repo .* \(e\.g\. Xenova\/tiny-bert-bare\)/,
    );
    const pulled = await pullModel('org/tiny-bert-bare', options(modelsDir, { onnxRepo: 'Xenova/tiny-bert-bare' }));
    expect(pulled.record.onnx?.repo).toBe('Xenova/tiny-bert-bare');
    expect(pulled.record.files['onnx/model.onnx'].repo).toBe('Xenova/tiny-bert-bare');
    expect(pulled.record.files['tokenizer.json'].repo).toBe('org/tiny-bert-bare');
    expect(maxAbsDiff(await embed('org/tiny-bert-bare', modelsDir), await embed('tiny-bert', MODELS_ROOT))).toBeLessThan(1e-5);
  });

  it('keeps the ONNX conversion of the last pull when the folder is pulled again with --weights (for fine-tuning), so it still embeds, and the weights when pulled again without', async () => {
    const modelsDir = await freshModelsDir();
    await pullModel('org/tiny-bert-bare', options(modelsDir, { onnxRepo: 'Xenova/tiny-bert-bare' }));
    const notes: string[] = [];
    const pulled = await pullModel('org/tiny-bert-bare', options(modelsDir, { weights: true, onNote: (n) => notes.push(n) }));
    expect(pulled.upToDate).toBe(false);
    expect(pulled.record).toMatchObject({ onnx: { repo: 'Xenova/tiny-bert-bare' }, weights: true });
    expect(notes).toContain("the ONNX graph comes from Xenova/tiny-bert-bare again, as in the folder's last pull (--onnx-repo names another)");
    expect((await readdir(pulled.folder, { recursive: true })).sort()).toEqual(expect.arrayContaining(['model.safetensors', 'onnx/model.onnx']));
    expect(maxAbsDiff(await embed('org/tiny-bert-bare', modelsDir), await embed('tiny-bert', MODELS_ROOT))).toBeLessThan(1e-5);
    // ... and a plain pull again keeps the weights: it has nothing to do.
    const before = hub.requests.length;
    const again = await pullModel('org/tiny-bert-bare', options(modelsDir));
    expect(again.upToDate).toBe(true);
    expect(again.record.weights).toBe(true);
    expect(hub.requests.slice(before).filter((r) => r.url.includes('/resolve/') || r.server === 'cdn')).toEqual([]);
    expect((await readdir(pulled.folder)).includes('model.safetensors')).toBe(true);
  });

  it('does nothing the second time, and pulls again when the repo has a new commit', async () => {
    const modelsDir = await freshModelsDir();
    await pullModel('google-bert/tiny-bert', options(modelsDir));
    const before = hub.requests.length;
    const again = await pullModel('google-bert/tiny-bert', options(modelsDir));
    expect(again.upToDate).toBe(true);
    expect(hub.requests.slice(before).filter((r) => r.url.includes('/resolve/') || r.server === 'cdn')).toEqual([]);

    const repo = hub.store.get('model', 'google-bert/tiny-bert')!;
    const config = JSON.parse(hub.store.head(repo).files.get('config.json')!.blob.toString('utf8'));
    hub.store.commit(repo, 'main', { title: 'edit config', files: { 'config.json': JSON.stringify({ ...config, layer_norm_eps: 1e-12, note: 'edited' }) } });
    const updated = await pullModel('google-bert/tiny-bert', options(modelsDir));
    expect(updated.upToDate).toBe(false);
    expect(updated.record.commit).toBe(repo.branches.get('main'));
    expect(JSON.parse(await readFile(join(modelsDir, 'google-bert', 'tiny-bert', 'config.json'), 'utf8')).note).toBe('edited');
  });

  it('continues a pull that failed half-way without downloading again what it had, and leaves no folder until it is complete', async () => {
    const modelsDir = await freshModelsDir();
    hub.faults.push({ path: new RegExp(`^/lfs/${onnxOid}`), status: 404, times: 1 });
    await expect(pullModel('google-bert/tiny-bert', options(modelsDir))).rejects.toThrow(/google-bert\/tiny-bert\/onnx\/model\.onnx/);
    expect(await stat(join(modelsDir, 'google-bert', 'tiny-bert')).catch(() => null)).toBeNull();
    const before = hub.requests.length;
    await pullModel('google-bert/tiny-bert', options(modelsDir));
    const again = hub.requests.slice(before).map((r) => r.url);
    expect(again.filter((url) => url.endsWith('/tokenizer.json'))).toEqual([]);
    expect(again.some((url) => url.startsWith(`/lfs/${onnxOid}`))).toBe(true);
    expect((await stat(join(modelsDir, 'google-bert', 'tiny-bert', 'onnx', 'model.onnx'))).isFile()).toBe(true);
  });

  it('resumes a file from the bytes it has, with a Range request, and verifies the whole', async () => {
    const dir = await mkdtemp(join(scratch, 'resume-'));
    const dest = join(dir, 'model.onnx');
    const content = await readFile(join(published, 'onnx', 'model.onnx'));
    await writeFile(`${dest}.part`, content.subarray(0, 1000));
    const before = hub.requests.length;
    await downloadVerified(options(dir).hub!, 'google-bert/tiny-bert', 'main', { path: 'onnx/model.onnx', size: content.length, sha256: onnxOid }, dest, {
      limit: { bytes: 2 ** 30 },
    });
    expect(await readFile(dest)).toEqual(content);
    expect(hub.requests.slice(before).some((r) => r.server === 'cdn' && r.headers.range === `bytes=1000-${content.length - 1}`)).toBe(true);
  });

  it('downloads the whole model.safetensors with --weights: the folder then fine-tunes and embeds with TensorFlow.js', async () => {
    const modelsDir = await freshModelsDir();
    const pulled = await pullModel('org/tiny-bert-bare', options(modelsDir, { weights: true }));
    expect(pulled.record).toMatchObject({ onnx: null, weights: true, pooler: 'model.safetensors' });
    const model = await readModelFolder(pulled.folder);
    expect(model.tensors.has('pooler.dense.weight')).toBe(true);
    expect(cdnRanges(weightsOid)).toContain('whole');
    // ensureModel finds it there and pulls nothing.
    const before = hub.requests.length;
    expect((await ensureModel('org/tiny-bert-bare', options(modelsDir))).pulled).toBeNull();
    expect(hub.requests.length).toBe(before);
  });

  it('pulls on demand with the weights when there is no ONNX anywhere (ensureModel)', async () => {
    const modelsDir = await freshModelsDir();
    const { pulled } = await ensureModel('org/tiny-bert-bare', options(modelsDir));
    expect(pulled?.record).toMatchObject({ onnx: null, weights: true });
  });
});

describe('model pull, refusals', () => {
  it('refuses a file whose bytes do not match the sha256 the Hub announces, and keeps nothing of it', async () => {
    const modelsDir = await freshModelsDir();
    hub.corrupted.add(onnxOid);
    try {
      await expect(pullModel('google-bert/tiny-bert', options(modelsDir))).rejects.toThrow(
        /onnx\/model\.onnx does not match the sha256 the Hub announces .*; refused/,
      );
    } finally {
      hub.corrupted.delete(onnxOid);
    }
    expect(await stat(join(modelsDir, 'google-bert', 'tiny-bert')).catch(() => null)).toBeNull();
    const partial = await readdir(join(modelsDir, '.partial'), { recursive: true });
    expect(partial.filter((f) => f.includes('model.onnx'))).toEqual([]);
  });

  it('refuses a file over the size limit before fetching any of it', async () => {
    const modelsDir = await freshModelsDir();
    const saved = process.env.ESMSELECT_HUB_MAX_MODEL_MB;
    process.env.ESMSELECT_HUB_MAX_MODEL_MB = '0.1';
    const before = hub.requests.length;
    try {
      await expect(pullModel('google-bert/tiny-bert', options(modelsDir))).rejects.toThrow(
        /onnx\/model\.onnx is \d+ KB; esmselect downloads at most 102 KB \(ESMSELECT_HUB_MAX_MODEL_MB raises it\)/,
      );
    } finally {
      if (saved === undefined) delete process.env.ESMSELECT_HUB_MAX_MODEL_MB;
      else process.env.ESMSELECT_HUB_MAX_MODEL_MB = saved;
    }
    expect(hub.requests.slice(before).some((r) => r.url.startsWith(`/lfs/${onnxOid}`))).toBe(false);
  });

  it('fetches only the files it knows, whatever names the repo holds, and refuses unknown models, missing tokenizers and foreign model types', async () => {
    const modelsDir = await freshModelsDir();
    await publishFolder(hub, 'model', 'evil/tiny-bert', published, { '../../escape.json': '{}', '/etc/passwd-like': 'x', 'onnx/../../up.onnx': 'x' });
    await pullModel('evil/tiny-bert', options(modelsDir));
    const everything = await readdir(scratch, { recursive: true });
    expect(everything.filter((f) => /escape\.json|passwd-like|up\.onnx/.test(f))).toEqual([]);

    await expect(pullModel('nobody/nothing', options(modelsDir))).rejects.toThrow(
      'model: nobody/nothing: no such model on the Hub (a private or gated repo needs HF_TOKEN)',
    );
    await expect(pullModel('../up', options(modelsDir))).rejects.toThrow(/is not a model name/);

    const noTokenizer = join(scratch, 'no-tokenizer');
    await cp(published, noTokenizer, { recursive: true });
    await rm(join(noTokenizer, 'tokenizer.json'));
    await publishFolder(hub, 'model', 'org/no-tokenizer', noTokenizer);
    await expect(pullModel('org/no-tokenizer', options(modelsDir))).rejects.toThrow(
      'model: org/no-tokenizer has no tokenizer.json (transformers.js needs the tokenizer in that form)',
    );

    const gpt = join(scratch, 'gpt');
    await cp(published, gpt, { recursive: true });
    await writeFile(join(gpt, 'config.json'), JSON.stringify({ model_type: 'gpt2', n_embd: 32 }));
    await publishFolder(hub, 'model', 'org/tiny-gpt', gpt);
    const before = hub.requests.length;
    await expect(pullModel('org/tiny-gpt', options(modelsDir))).rejects.toThrow('model: org/tiny-gpt: model_type "gpt2" has no hfselect pooling rule');
    // Refused on config.json, before the ONNX graph was fetched.
    expect(hub.requests.slice(before).some((r) => r.server === 'cdn')).toBe(false);

    // A checkpoint whose safetensors header points past its end: refused, not read.
    const lying = join(scratch, 'lying');
    await cp(published, lying, { recursive: true });
    const header = Buffer.from(
      JSON.stringify({
        'pooler.dense.weight': { dtype: 'F32', shape: [32, 32], data_offsets: [0, 4096] },
        'pooler.dense.bias': { dtype: 'F32', shape: [32], data_offsets: [4096, 4224] },
      }),
    );
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(header.length));
    await writeFile(join(lying, 'model.safetensors'), Buffer.concat([length, header, Buffer.alloc(16)]));
    await publishFolder(hub, 'model', 'evil/lying-header', lying);
    await expect(pullModel('evil/lying-header', options(modelsDir))).rejects.toThrow(
      /model: evil\/lying-header\/model\.safetensors is not a readable safetensors file \(tensor pooler\.dense\.weight: needs bytes up to 4096 .*\); refused/,
    );

    // A folder of the user's own under that name is never replaced.
    await mkdir(join(modelsDir, 'google-bert', 'tiny-bert'), { recursive: true });
    await expect(pullModel('google-bert/tiny-bert', options(modelsDir))).rejects.toThrow(
      'model: google-bert/tiny-bert is already a folder under the models directory that esmselect did not pull',
    );
  });

  it('says in one line that HF_HUB_OFFLINE forbids it, before any request', async () => {
    const before = hub.requests.length;
    const offline = hubConfig({ HF_ENDPOINT: hub.endpoint, HF_HUB_OFFLINE: '1' });
    expect(() => hubClient('model pull tiny-bert', offline)).toThrow('model pull tiny-bert needs the Hugging Face Hub, but HF_HUB_OFFLINE is set');
    expect(hub.requests.length).toBe(before);
  });
});
