import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabelledTexts } from '../../src/finetune/data.js';
import { readJobRecord } from '../../src/finetune/job.js';
import { openRegistry } from '../../src/store/database.js';
import { registerDataset } from '../../src/store/datasets.js';
import { listEsms } from '../../src/store/esms.js';
import { runCli } from '../helpers/cli.js';
import { MODELS_ROOT } from '../helpers/finetune.js';
import { keywordTask, SENTIMENT, TOPIC } from '../helpers/synthetic.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
let scratch: string;
let source: string;
let target: string;

async function writeJsonl(path: string, task: LabelledTexts): Promise<void> {
  await writeFile(path, task.texts.map((text, i) => `${JSON.stringify({ text, label: task.labels[i] })}\n`).join(''));
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'esmselect-cli-finetune-'));
  source = join(scratch, 'topic.jsonl');
  target = join(scratch, 'sentiment.jsonl');
  await writeJsonl(source, keywordTask('topic', TOPIC, 240, 1));
  await writeJsonl(target, keywordTask('sentiment', SENTIMENT, 320, 2));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** The tiny models, and a registry of the test's own. */
const env = () => ({ ESMSELECT_MODELS_DIR: MODELS_ROOT, ESMSELECT_DATA_DIR: join(scratch, 'data') });
const jobFlags = (out: string) => [
  'finetune',
  '--source',
  source,
  '--target',
  target,
  '--model',
  'tiny-bert',
  '--mask',
  'gmt',
  '--epochs',
  '4',
  '--learning-rate',
  '3e-3',
  '--batch-size',
  '16',
  '--target-set',
  'epochs=8',
  '--out',
  out,
];

describe('esmselect finetune', () => {
  it('resumes a killed job from its last checkpoint', async () => {
    const out = join(scratch, 'killed');
    // Killed (SIGKILL: nothing can clean up) as soon as it reports the intermediate fine-tune's ESM,
    // i.e. early in the target stage.
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...jobFlags(out)], {
      cwd: root,
      env: { ...process.env, ...env() },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const exited = new Promise<NodeJS.Signals | null>((done) => child.on('exit', (_code, signal) => done(signal)));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('ESM saved to')) child.kill('SIGKILL');
    });
    expect(await exited).toBe('SIGKILL');
    const killed = await readJobRecord(out);
    expect(killed?.status).toBe('running');
    expect(Object.keys(killed!.completed).sort()).toEqual(['esm', 'intermediate']);
    expect(await stat(join(out, 'target')).catch(() => null)).toBeNull();
    const intermediateWeights = await readFile(join(out, 'intermediate', 'model.safetensors'));

    const resumed = runCli(['finetune', '--resume', out, '--format', 'json'], env());
    expect(resumed.stderr).toContain('intermediate: done before, restored from the job folder');
    expect(resumed.status).toBe(0);
    const result = JSON.parse(resumed.stdout);
    expect(result.restored).toEqual(['intermediate', 'esm']);
    expect(result.intermediate).toEqual(killed!.completed.intermediate);
    expect(result.target.metrics.accuracy).toBeGreaterThan(result.target.initialMetrics.accuracy);
    expect(await readFile(join(out, 'intermediate', 'model.safetensors'))).toEqual(intermediateWeights);
    expect((await readJobRecord(out))?.status).toBe('succeeded');
  });

  it('reports progress by stage, epoch and loss, registers the ESM, and says what it made', async () => {
    // The source as a registered dataset, by its id.
    const registry = openRegistry({ dataDir: env().ESMSELECT_DATA_DIR });
    const dataset = registerDataset(registry, { name: source, split: 'train', text_column: 'text', label_column: 'label', task_type: 'classification' });
    registry.close();
    const flags = jobFlags(join(scratch, 'progress'));
    flags[flags.indexOf(source)] = String(dataset.id);
    const run = runCli([...flags, '--target-set', 'mask=dps'], env());
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/intermediate epoch 1\/4: train loss \d\.\d{4}, held out accuracy/);
    // The target task is learnt within an epoch or two: early stopping (patience 2) ends the stage.
    expect(run.stderr).toMatch(/target epoch 1\/8: train loss/);
    expect(run.stdout).toMatch(/best epoch \d of \d, stopped early: accuracy 1\.0000/);
    expect(run.stdout.startsWith(`intermediate (${source}, 216 train / 24 held out, mask gmt (keep 0.7 per tensor, scope all)):`)).toBe(true);
    expect(run.stdout).toMatch(/target \(sentiment, 288 train \/ 32 held out, mask dps \(phases of \d+ steps/);
    expect(run.stdout).toContain(`ESM of the intermediate fine-tune: ${join(scratch, 'progress', 'esm')}`);
    const registered = /ESM registered as #(\d+)/.exec(run.stderr);
    expect(registered).not.toBeNull();
    const reopened = openRegistry({ dataDir: env().ESMSELECT_DATA_DIR });
    const esm = listEsms(reopened).find((r) => r.id === Number(registered![1]));
    reopened.close();
    expect(esm).toMatchObject({ task_id: source, task_split: 'train', base_model_name: 'tiny-bert', pooling: 'pooler_output', origin: 'finetuned' });
  });

  it('rejects bad input with one line and exit status 2', async () => {
    const bad = join(scratch, 'bad.jsonl');
    await writeFile(bad, '{"text": "good", "label": 1}\n{"text": 3, "label": 0}\n');
    const cases: [string[], RegExp][] = [
      [['finetune', '--source', source, '--target', target], /^esmselect: --model is required/],
      [
        ['finetune', '--source', join(scratch, 'missing.jsonl'), '--target', target, '--model', 'tiny-bert'],
        /--source: .*missing\.jsonl is neither a data file nor a registered dataset id/,
      ],
      [['finetune', '--source', '99', '--target', target, '--model', 'tiny-bert'], /dataset: there is no dataset #99 in the registry/],
      [['finetune', '--source', bad, '--target', target, '--model', 'tiny-bert'], /--source: .*bad\.jsonl: row 2, column "text": expected text, got a number/],
      [['finetune', '--source', source, '--target', target, '--model', '../etc'], /model: "\.\.\/etc" is not a model name/],
      [['finetune', '--source', source, '--target', target, '--model', 'tiny-bert', '--set', 'keepFraction=1.5'], /intermediate stage: keepFraction: /],
      [['finetune', '--source', source, '--target', target, '--model', 'tiny-bert', '--target-set', 'epoch=2'], /target stage: unknown setting "epoch"/],
      [['finetune', '--resume', scratch], /--resume: .* has no job\.json/],
    ];
    for (const [args, message] of cases) {
      const run = runCli(args, env());
      expect(run.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(run.stderr).toMatch(message);
      expect(run.status).toBe(2);
    }
  });
});
