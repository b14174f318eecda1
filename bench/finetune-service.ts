/**
 * Benchmark of the service's policy for fine-tunes beside rankings: the latency of synchronous
 * rankings while a fine-tune trains (in its own process at lower priority, as POST /v1/finetunes
 * runs it), as a ratio to the same rankings on an idle server measured in the same run; and, as the
 * reference the policy is judged against, while the same fine-tune trains on the server's own event
 * loop (what running it in-process would do). Each busy phase is compared with the idle phases on
 * either side of it, so drift on a shared machine shows as a difference between those two.
 *
 *   npm run bench finetune-service                      # phases of 20 s
 *   npm run bench finetune-service -- --phase-seconds 60
 *
 * A phase sends synchronous rankings one after the other for `--phase-seconds` (and waits for the
 * last one: a starved ranking takes far longer than a phase).
 */
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readTextDataset } from '../src/dataset/text-dataset.js';
import { type FinetuneSpec, runFinetune } from '../src/finetune/job.js';
import { createServerContext } from '../src/server/context.js';
import { seedDemoPool } from '../src/server/demo.js';
import { createApp } from '../src/server/http/app.js';
import { loadTensorflow } from '../src/tf/backend.js';
import { benchTask, makeModel, ROOT, TINY } from './fixtures.js';

/** The fine-tuned model: prajjwal1/bert-tiny's shape (random weights), whose steps keep a core busy. */
const FINETUNED = 'bench-bert-tiny';
/** Long enough never to end during a phase; the phase stops it. */
const SETTINGS = { epochs: 50, batchSize: 16, learningRate: 1e-4, patience: 0 };

interface Phase {
  readonly name: string;
  readonly latencies: number[];
  /** The fine-tune's optimiser steps per second during the phase (none when idle). */
  readonly stepsPerSecond: number | null;
}

function csv(task: { texts: readonly string[]; labels: readonly string[] }): string {
  return `text,label\n${task.texts.map((text, i) => `${text},${task.labels[i]}`).join('\n')}\n`;
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** `npm run bench finetune-service [--phase-seconds S]`. */
export async function finetuneServiceBenchmark(args: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...args], options: { 'phase-seconds': { type: 'string', default: '20' } } });
  const phaseSeconds = Number(values['phase-seconds']);
  const scratch = await mkdtemp(join(tmpdir(), 'esmselect-bench-service-'));
  const modelsDir = join(scratch, 'models');
  await mkdir(join(modelsDir, FINETUNED), { recursive: true });
  await cp(TINY, join(modelsDir, 'tiny-bert'), { recursive: true });
  await makeModel('bert-tiny', join(modelsDir, FINETUNED));
  const context = createServerContext({ dataDir: join(scratch, 'data'), modelsDir, log: () => {} });
  try {
    // The tests' tiny-bert demo pool: rankings of the model this bench fine-tunes, against 12 ESMs.
    const pool = join(ROOT, 'test', 'fixtures', 'demo-tiny-bert');
    await seedDemoPool(context.registry, { esms: join(pool, 'esms'), datasets: join(pool, 'datasets') });
    const app = createApp(context);
    const demo = await readTextDataset(join(pool, 'target.csv'), { textColumns: 'text', labelColumn: 'label' });
    const ranking = JSON.stringify({ texts: demo.texts, labels: demo.labels, model: 'tiny-bert' });
    const rank = async () => {
      const started = performance.now();
      const response = await app.request('/v1/rankings', { method: 'POST', headers: { 'content-type': 'application/json' }, body: ranking });
      if (response.status !== 200) throw new Error(`a ranking answered ${response.status}: ${await response.text()}`);
      await response.arrayBuffer();
      return performance.now() - started;
    };
    // The first ranking embeds the texts; the measured ones find them in the cache.
    await rank();
    const measure = async (name: string, steps: () => number): Promise<Phase> => {
      process.stderr.write(`measuring: ${name}\n`);
      const latencies: number[] = [];
      const [started, before] = [performance.now(), steps()];
      do latencies.push(await rank());
      while (performance.now() - started < phaseSeconds * 1000);
      const seconds = (performance.now() - started) / 1000;
      return { name, latencies, stepsPerSecond: name === 'idle' ? null : (steps() - before) / seconds };
    };
    const phases: Phase[] = [await measure('idle', () => 0)];

    // The service's way: POST /v1/finetunes, a process of its own at lower priority.
    const source = benchTask(4000);
    const target = benchTask(1000);
    const form = new FormData();
    form.set('source_file', new Blob([csv(source)]), 'source.csv');
    form.set('target_file', new Blob([csv(target)]), 'target.csv');
    for (const [key, value] of Object.entries({
      text_column: 'text',
      label_column: 'label',
      model: FINETUNED,
      intermediate_settings: JSON.stringify(SETTINGS),
    }))
      form.set(key, value);
    const job = (await (await app.request('/v1/finetunes', { method: 'POST', body: form })).json()) as { id: string; links: { self: string } };
    let serviceStep = 0;
    process.stderr.write('waiting for the fine-tune to train\n');
    for (;;) {
      const { status, progress } = (await (await app.request(job.links.self)).json()) as { status: string; progress: { step?: number } };
      if (status !== 'running' && status !== 'queued') throw new Error(`the fine-tune ended (${status}) before it could be measured`);
      if (progress.step !== undefined) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const unsubscribe = context.jobs.subscribe(job.id, (event) => {
      if (event.type === 'progress' && typeof event.progress.step === 'number') serviceStep = event.progress.step;
    });
    phases.push(await measure('fine-tune in its own process (the service)', () => serviceStep));
    unsubscribe();
    await app.request(job.links.self, { method: 'DELETE' });
    phases.push(await measure('idle', () => 0));

    // The reference: the same fine-tune on this process's event loop.
    const { description } = await loadTensorflow();
    const controller = new AbortController();
    let inProcessStep = 0;
    let training: () => void = () => {};
    const trainingStarted = new Promise<void>((resolve) => (training = resolve));
    const spec: FinetuneSpec = {
      model: FINETUNED,
      modelsDir,
      source: { ...source, id: 'source', textColumn: 'text', labelColumn: 'label' },
      target: { ...target, id: 'target', textColumn: 'text', labelColumn: 'label' },
      intermediate: SETTINGS,
      outputDir: join(scratch, 'in-process'),
    };
    const run = runFinetune(spec, {
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type !== 'step') return;
        inProcessStep = event.step;
        training();
      },
    }).catch(() => {});
    await trainingStarted;
    phases.push(await measure("fine-tune on the server's event loop (reference)", () => inProcessStep));
    controller.abort();
    await run;
    phases.push(await measure('idle', () => 0));

    console.log(
      `${description}; synchronous rankings back to back for ${phaseSeconds} s a phase (the demo target's 60 texts, cached, against the 12 demo ESMs); load average at the end ${loadavg()[0].toFixed(1)}`,
    );
    console.log(['phase', 'rankings', 'median ms', 'p90 ms', 'max ms', 'median / idle', 'fine-tune steps/s'].join('\t'));
    phases.forEach((phase, i) => {
      const idle = phase.stepsPerSecond === null ? null : (quantile(phases[i - 1].latencies, 0.5) + quantile(phases[i + 1].latencies, 0.5)) / 2;
      const median = quantile(phase.latencies, 0.5);
      console.log(
        [
          phase.name,
          phase.latencies.length,
          median.toFixed(1),
          quantile(phase.latencies, 0.9).toFixed(1),
          Math.max(...phase.latencies).toFixed(1),
          idle === null ? '—' : `${(median / idle).toFixed(2)}×`,
          phase.stepsPerSecond?.toFixed(2) ?? '—',
        ].join('\t'),
      );
    });
  } finally {
    await context.close(0);
    await rm(scratch, { recursive: true, force: true });
  }
}
