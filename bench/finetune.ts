/**
 * Benchmark of the fine-tuning step with each masking strategy on the same run: steps/s, peak RSS
 * and peak tensor memory for none vs gmt vs dps (and gmt with strict masked entries), and the mask
 * overhead as a ratio to the vanilla step measured in the same invocation.
 *
 *   npm run bench finetune                            # both models, 3 rounds
 *   npm run bench finetune -- --model bert-tiny --rounds 5 --steps 30
 *
 * Each (model, strategy) runs in its own process, so peak RSS is its own; rounds alternate the
 * strategies so drift on a shared machine hits them alike, and the fastest round counts. The
 * overhead is taken from the process's CPU time per step (user + system), which other processes on
 * a shared machine disturb far less than wall time; steps/s is wall time.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { createClassifier, readModelFolder } from '../src/finetune/checkpoint.js';
import { prepareTask } from '../src/finetune/data.js';
import { resolveStageSettings, type StageSettingsInput } from '../src/finetune/settings.js';
import { loadTokenizer } from '../src/finetune/tokenize.js';
import { trainStage } from '../src/finetune/trainer.js';
import { loadTensorflow } from '../src/tf/backend.js';
import { benchTask, MODELS, type ModelSize, makeModel, ROOT } from './fixtures.js';

const STRATEGIES: Record<string, StageSettingsInput> = {
  none: { mask: 'none' },
  gmt: { mask: 'gmt' },
  dps: { mask: 'dps' },
  'gmt-strict': { mask: 'gmt', maskedEntries: 'strict' },
};

interface Measurement {
  model: ModelSize;
  strategy: string;
  backend: string;
  parameters: number;
  steps: number;
  msPerStep: number;
  cpuMsPerStep: number;
  peakRssMiB: number;
  peakTensorMiB: number;
}

/** One child process: one strategy on one model; prints its Measurement as JSON. */
async function measure(model: ModelSize, strategy: string, steps: number, warmup: number): Promise<Measurement> {
  const { description } = await loadTensorflow();
  const folder = await mkdtemp(join(tmpdir(), `esmselect-bench-${model}-`));
  try {
    await makeModel(model, folder);
    const base = await readModelFolder(folder);
    const tokenizer = await loadTokenizer(folder);
    const batchSize = 16;
    const settings = resolveStageSettings({ ...STRATEGIES[strategy], epochs: 1, batchSize, learningRate: 1e-4, heldOutFraction: 0.01, patience: 0 }, 'bench');
    // Enough examples for warm-up + measured steps in one epoch; the held-out split is one example.
    const data = prepareTask(benchTask((steps + warmup) * batchSize + 1), tokenizer, { heldOutFraction: settings.heldOutFraction, seed: 0, field: 'bench' });
    const classifier = createClassifier(base, { pooling: 'pooler_output', numLabels: 2, seed: 0 });
    const times: { wall: number; cpu: number }[] = [];
    let peakTensorBytes = 0;
    await trainStage(classifier, data, settings, {
      stage: 'target',
      onStep: () => {
        const { user, system } = process.cpuUsage();
        times.push({ wall: performance.now(), cpu: (user + system) / 1000 });
        peakTensorBytes = Math.max(peakTensorBytes, tf.memory().numBytes);
      },
    });
    const measured = times.slice(warmup - 1);
    const first = measured[0];
    const last = measured[measured.length - 1];
    return {
      model,
      strategy,
      backend: description,
      parameters: classifier.parameters.reduce((n, p) => n + p.variable.size, 0),
      steps: measured.length - 1,
      msPerStep: (last.wall - first.wall) / (measured.length - 1),
      cpuMsPerStep: (last.cpu - first.cpu) / (measured.length - 1),
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
      peakTensorMiB: peakTensorBytes / 2 ** 20,
    };
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/** `npm run bench finetune [--model M…] [--rounds N] [--steps N] [--warmup N]`; `--child` is a measured process of its own. */
export async function finetuneBenchmark(args: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      model: { type: 'string', multiple: true },
      rounds: { type: 'string', default: '3' },
      steps: { type: 'string', default: '20' },
      warmup: { type: 'string', default: '5' },
      child: { type: 'string' },
    },
  });
  const steps = Number(values.steps);
  const warmup = Number(values.warmup);
  if (values.child) {
    const [model, strategy] = values.child.split(':') as [ModelSize, string];
    process.stdout.write(`${JSON.stringify(await measure(model, strategy, steps, warmup))}\n`);
    return;
  }
  const models = (values.model ?? Object.keys(MODELS)) as ModelSize[];
  const best = new Map<string, Measurement>();
  for (let round = 1; round <= Number(values.rounds); round++) {
    for (const model of models) {
      for (const strategy of Object.keys(STRATEGIES)) {
        const child = spawnSync(
          process.execPath,
          ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', `${model}:${strategy}`, '--steps', String(steps), '--warmup', String(warmup)],
          { cwd: ROOT, encoding: 'utf8' },
        );
        if (child.status !== 0) throw new Error(`${model}/${strategy} failed: ${child.stderr}`);
        const m = JSON.parse(child.stdout.trim().split('\n').pop()!) as Measurement;
        const key = `${model}:${strategy}`;
        const previous = best.get(key);
        // The fastest round's times, the largest peaks seen in any round.
        best.set(key, {
          ...m,
          msPerStep: Math.min(m.msPerStep, previous?.msPerStep ?? Infinity),
          cpuMsPerStep: Math.min(m.cpuMsPerStep, previous?.cpuMsPerStep ?? Infinity),
          peakRssMiB: Math.max(m.peakRssMiB, previous?.peakRssMiB ?? 0),
          peakTensorMiB: Math.max(m.peakTensorMiB, previous?.peakTensorMiB ?? 0),
        });
        process.stderr.write(`round ${round}: ${model} ${strategy}: ${m.msPerStep.toFixed(1)} ms/step, ${m.cpuMsPerStep.toFixed(1)} CPU ms/step\n`);
      }
    }
  }
  const rows = [...best.values()];
  console.log(rows[0].backend);
  console.log(
    `${Object.keys(STRATEGIES).length} strategies × ${models.length} models, ${steps} measured steps (after ${warmup} warm-up) of batch 16 × 34 tokens, best of ${values.rounds} rounds`,
  );
  console.log(
    ['model', 'params', 'strategy', 'steps/s', 'wall ms/step', 'CPU ms/step', 'overhead (CPU)', 'overhead (wall)', 'peak RSS MiB', 'peak tensors MiB'].join(
      '\t',
    ),
  );
  const percent = (ratio: number) => `${ratio >= 0 ? '+' : ''}${(ratio * 100).toFixed(1)}%`;
  for (const m of rows) {
    const vanilla = best.get(`${m.model}:none`)!;
    console.log(
      [
        m.model,
        m.parameters,
        m.strategy,
        (1000 / m.msPerStep).toFixed(2),
        m.msPerStep.toFixed(1),
        m.cpuMsPerStep.toFixed(1),
        percent(m.cpuMsPerStep / vanilla.cpuMsPerStep - 1),
        percent(m.msPerStep / vanilla.msPerStep - 1),
        m.peakRssMiB.toFixed(0),
        m.peakTensorMiB.toFixed(1),
      ].join('\t'),
    );
  }
}

// Each measured (model, strategy) is this module run as a process of its own, with --child.
if (process.argv[1] === fileURLToPath(import.meta.url)) await finetuneBenchmark(process.argv.slice(2));
