import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import { loadHfselectEsm } from '../../src/esm/hfselect.js';
import { createClassifier, readModelFolder } from '../../src/finetune/checkpoint.js';
import { prepareTask } from '../../src/finetune/data.js';
import { type FinetuneEvent, type FinetuneSpec, readJobRecord, runFinetune } from '../../src/finetune/job.js';
import type { ClassificationMetrics, RegressionMetrics } from '../../src/finetune/metrics.js';
import { resolveStageSettings } from '../../src/finetune/settings.js';
import { loadTokenizer } from '../../src/finetune/tokenize.js';
import { evaluate, trainStage } from '../../src/finetune/trainer.js';
import type { RankingResult } from '../../src/rank/ranking.js';
import { findRankedSourceDataset, findSourceDataset, readRegisteredTask, sourceFromRanking } from '../../src/registry/sources.js';
import { openRegistry } from '../../src/store/database.js';
import { registerDataset } from '../../src/store/datasets.js';
import { recordRankingRun } from '../../src/store/rankings.js';
import { loadTensorflow } from '../../src/tf/backend.js';
import { MODELS_ROOT, tinyModel } from '../helpers/finetune.js';
import { keywordTask, SENTIMENT, TOPIC } from '../helpers/synthetic.js';

let scratch: string;
beforeAll(async () => {
  await loadTensorflow();
  scratch = await mkdtemp(join(tmpdir(), 'esmselect-finetune-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const STAGE = { epochs: 4, batchSize: 16, learningRate: 3e-3, heldOutFraction: 0.2 } as const;

function spec(outputDir: string, overrides: Partial<FinetuneSpec> = {}): FinetuneSpec {
  return {
    model: 'tiny-bert',
    modelsDir: MODELS_ROOT,
    source: keywordTask('synthetic/topic', TOPIC, 240, 1),
    target: keywordTask('synthetic/sentiment', SENTIMENT, 160, 2),
    intermediate: { ...STAGE, mask: 'gmt' },
    targetStage: { ...STAGE, epochs: 6, mask: 'dps', seed: 3 },
    outputDir,
    ...overrides,
  };
}

const accuracyOf = (metrics: unknown) => (metrics as ClassificationMetrics).accuracy;

describe('runFinetune', () => {
  it('fine-tunes source then target, beating the untrained model on the target, and leaves loadable checkpoints and an ESM', async () => {
    const outputDir = join(scratch, 'two-stage');
    const events: FinetuneEvent[] = [];
    const job = spec(outputDir);
    const result = await runFinetune(job, { onEvent: (e) => events.push(e) });

    // The untrained model: the base encoder with a fresh head, on the same held-out target examples.
    const base = await readModelFolder(tinyModel('tiny-bert'));
    const tokenizer = await loadTokenizer(tinyModel('tiny-bert'));
    const target = prepareTask(job.target, tokenizer, { heldOutFraction: STAGE.heldOutFraction, seed: 3, field: 'target' });
    const untrained = createClassifier(base, { pooling: 'pooler_output', numLabels: 2, seed: 3 });
    const untrainedAccuracy = accuracyOf(evaluate(untrained, target, target.evaluation, 32));
    untrained.dispose();
    expect(target.evaluation.size).toBe(32);
    expect(accuracyOf(result.target.metrics)).toBeGreaterThanOrEqual(0.8);
    expect(accuracyOf(result.target.metrics)).toBeGreaterThan(untrainedAccuracy + 0.2);
    expect(accuracyOf(result.intermediate.metrics)).toBeGreaterThan(accuracyOf(result.intermediate.initialMetrics));
    expect(result.intermediate.mask).toMatch(/^gmt/);
    expect(result.target.mask).toMatch(/^dps/);
    expect(result.restored).toEqual([]);

    // The target checkpoint holds the reported (best) model.
    const saved = createClassifier(await readModelFolder(result.checkpoints.target), { pooling: 'pooler_output', numLabels: 2, seed: 0, keepHead: true });
    expect(evaluate(saved, target, target.evaluation, 32)).toEqual(result.target.metrics);
    saved.dispose();

    // The ESM of the intermediate fine-tune, in hfselect's format, describing the source task.
    const esm = await loadHfselectEsm(result.esm.folder);
    expect(esm.config).toMatchObject({
      task_id: 'synthetic/topic',
      base_model_name: 'tiny-bert',
      pooling: 'pooler_output',
      num_examples: 240,
      esm_embedding_dim: 32,
      lm_optimizer: 'AdamW',
      text_column: 'text',
    });
    expect(result.esm.heldOutR2).toBeGreaterThan(0);

    const record = await readJobRecord(outputDir);
    expect(record?.status).toBe('succeeded');
    expect(events.filter((e) => e.type === 'stage').map((e) => `${e.stage}:${e.status}`)).toEqual([
      'intermediate:started',
      'intermediate:completed',
      'esm:started',
      'esm:completed',
      'target:started',
      'target:completed',
    ]);
    const steps = events.filter((e) => e.type === 'step');
    expect(steps.length).toBe(result.intermediate.steps + result.target.steps);
    expect(steps.at(-1)).toMatchObject({ stage: 'target', step: result.target.steps, totalSteps: result.target.steps, etaSeconds: 0 });
  });

  it('resumes a cancelled job after its last completed step, and refuses other data in the same folder', async () => {
    const outputDir = join(scratch, 'resume');
    const controller = new AbortController();
    const first = runFinetune(spec(outputDir), { signal: controller.signal, onEvent: (e) => e.type === 'step' && e.stage === 'target' && controller.abort() });
    await expect(first).rejects.toThrow();
    const cancelled = await readJobRecord(outputDir);
    expect(cancelled).toMatchObject({ status: 'cancelled', completed: { intermediate: { stage: 'intermediate' }, esm: { taskId: 'synthetic/topic' } } });
    expect(cancelled?.completed.target).toBeUndefined();
    const intermediateWeights = await readFile(join(outputDir, 'intermediate', 'model.safetensors'));

    await expect(runFinetune(spec(outputDir, { target: keywordTask('synthetic/sentiment', SENTIMENT, 150, 2) }))).rejects.toThrow(UserInputError);

    const stages: string[] = [];
    const result = await runFinetune(spec(outputDir), { onEvent: (e) => e.type === 'stage' && stages.push(`${e.stage}:${e.status}`) });
    expect(result.restored).toEqual(['intermediate', 'esm']);
    expect(stages).toEqual(['intermediate:restored', 'esm:restored', 'target:started', 'target:completed']);
    expect(await readFile(join(outputDir, 'intermediate', 'model.safetensors'))).toEqual(intermediateWeights);
    expect(result.intermediate).toEqual(cancelled?.completed.intermediate);
    expect(accuracyOf(result.target.metrics)).toBeGreaterThanOrEqual(0.8);
    expect((await readJobRecord(outputDir))?.status).toBe('succeeded');
  });

  it('reads a job.json from before one status vocabulary, whose finished job said completed, as succeeded', async () => {
    const outputDir = join(scratch, 'old-job');
    await mkdir(outputDir, { recursive: true });
    await writeFile(join(outputDir, 'job.json'), JSON.stringify({ version: 1, id: 'old-job', status: 'completed', completed: {} }));
    expect((await readJobRecord(outputDir))?.status).toBe('succeeded');
  });
});

describe('trainStage', () => {
  it('learns a regression task (MSE loss, Pearson on the held-out split) with strict GMT on DistilBERT', async () => {
    const folder = tinyModel('tiny-distilbert');
    const classification = keywordTask('synthetic/score', SENTIMENT, 160, 5);
    const scores = classification.labels.map((label, i) => (label === 'positive' ? 4 : 1) + (i % 5) / 10);
    const data = prepareTask({ ...classification, task: 'regression', labels: scores }, await loadTokenizer(folder), {
      heldOutFraction: 0.2,
      seed: 0,
      field: 'target',
    });
    const model = createClassifier(await readModelFolder(folder), { pooling: 'first_token', numLabels: 1, seed: 0 });
    const report = await trainStage(model, data, resolveStageSettings({ ...STAGE, epochs: 6, mask: 'gmt', maskedEntries: 'strict' }, 'target'), {
      stage: 'target',
    });
    model.dispose();
    const before = report.initialMetrics as RegressionMetrics;
    const after = report.metrics as RegressionMetrics;
    expect(after.pearson).toBeGreaterThan(0.8);
    expect(after.mse).toBeLessThan(before.mse / 4);
    expect(report.mask).toBe('gmt (keep 0.7 per tensor, scope all)');
  });
});

describe('sources', () => {
  const ranking: RankingResult = {
    ranking: [
      {
        rank: 1,
        task_id: 'glue/sst2',
        task_subset: null,
        text_column: 'sentence',
        label_column: 'label',
        task_split: 'train',
        num_examples: 1000,
        language: 'en',
        base_model_name: 'bert-base-uncased',
        esm_architecture: 'linear',
        score: -0.4,
        source: 'a',
      },
      {
        rank: 2,
        task_id: 'imdb',
        task_subset: 'plain_text',
        text_column: ['title', 'text'],
        label_column: 'label',
        task_split: 'train',
        num_examples: 1000,
        language: 'en',
        base_model_name: 'bert-base-uncased',
        esm_architecture: 'linear',
        score: -0.5,
        source: 'b',
      },
    ],
    rejected: [],
    target: { n: 10, d: 32, task: 'classification' },
    considered: 2,
    scored: 2,
    scorer: 'typescript',
    seconds: 0.1,
  };

  it('turns a ranking entry into the source of a fine-tune', () => {
    expect(sourceFromRanking(ranking, 2)).toEqual({
      rank: 2,
      taskId: 'imdb',
      subset: 'plain_text',
      split: 'train',
      textColumn: ['title', 'text'],
      labelColumn: 'label',
      baseModelName: 'bert-base-uncased',
    });
    expect(() => sourceFromRanking(ranking, 3)).toThrow(/rank: 3 is not in the ranking \(ranks: 1 to 2\)/);
  });

  it("finds the registered dataset of a stored ranking's entry and reads it as the source task", async () => {
    const file = join(scratch, 'sst2.jsonl');
    const topic = keywordTask('t', TOPIC, 12, 4);
    await writeFile(file, topic.texts.map((text, i) => `${JSON.stringify({ sentence: text, label: topic.labels[i] })}\n`).join(''));
    const registry = openRegistry({ dataDir: join(scratch, 'registry') });
    try {
      const record = registerDataset(registry, { name: file, split: 'train', text_column: 'sentence', label_column: 'label', task_type: 'classification' });
      registerDataset(registry, { name: join(scratch, 'elsewhere.jsonl'), text_column: 'sentence', label_column: 'label' });
      const stored: RankingResult = { ...ranking, ranking: [{ ...ranking.ranking[0], task_id: file }, ranking.ranking[1]] };
      const run = recordRankingRun(registry, { result: stored, esmSource: 'test' });
      expect(findRankedSourceDataset(registry, run, 1).id).toBe(record.id);
      expect(() => findRankedSourceDataset(registry, run, 2)).toThrow(/no registered dataset is the task imdb \(plain_text, train\)/);
      const task = await readRegisteredTask(findSourceDataset(registry, record.id));
      expect(task).toMatchObject({ id: file, task: 'classification', split: 'train', textColumn: 'sentence', labelColumn: 'label' });
      expect(task.texts).toEqual(topic.texts);
      await expect(readRegisteredTask(findSourceDataset(registry, record.id + 1))).rejects.toThrow(/is not a local file/);
    } finally {
      registry.close();
    }
  });
});
