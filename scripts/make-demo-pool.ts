/**
 * Makes the demo pool that `npm start` serves on a fresh clone: `npx tsx scripts/make-demo-pool.ts`.
 * Deterministic from the study's seed; writes demo/datasets/, demo/esms/, demo/target.csv and
 * demo/README.md (all of it generated; edit this script, not the output).
 *
 * The demo sources are the study's 12 source tasks (src/study/tasks.ts), each with its first
 * DEMO_EXAMPLES examples, and their ESMs are those of real fine-tunes: `runFinetune` trains
 * tiny-bert on each (the study's intermediate settings, more epochs for the smaller data), fits the
 * ESM of the fine-tune and hands it over; it is saved with `developers` and `language` added. Each
 * ESM's task_id is its dataset's path from the package root, `demo/datasets/<name>.csv`, the name
 * `esmselect finetune --source` gives a task read from that file, and the name the server's demo
 * seeding registers the dataset under (src/server/demo.ts), so a ranked demo source resolves to its data.
 */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../src/config.js';
import { embedDataset } from '../src/embed/embed-dataset.js';
import { EmbeddingSpaceMap } from '../src/esm/esm.js';
import { saveHfselectEsm } from '../src/esm/hfselect.js';
import { runFinetune } from '../src/finetune/job.js';
import type { ClassificationMetrics } from '../src/finetune/metrics.js';
import { writeFileAtomic } from '../src/io/atomic.js';
import { rank } from '../src/rank/rank.js';
import { DEMO_DATASETS_DIR, DEMO_ESMS_DIR } from '../src/server/demo.js';
import { FULL_STUDY, sourceSeed } from '../src/study/config.js';
import { toCsv } from '../src/study/report.js';
import { classLabel, generateFamily, type StudyTask } from '../src/study/tasks.js';

const DEMO_EXAMPLES = 200;
const TARGET_EXAMPLES = 60;
/**
 * The study's intermediate settings with more epochs for the smaller data (360 optimiser steps, a
 * study source takes about 450), all of them: early stopping on 20 held-out examples ended some
 * fine-tunes before they had learned their task.
 */
const INTERMEDIATE = { ...FULL_STUDY.intermediate, epochs: 30, patience: 0 };
const DEVELOPERS = 'esmselect demo pool: ESMs of real fine-tunes of tiny-bert on synthetic tasks of the study (see demo/README.md)';
const DEMO = join(PACKAGE_ROOT, 'demo');

const family = generateFamily({ ...FULL_STUDY.family, sourceExamples: DEMO_EXAMPLES, targetTrain: TARGET_EXAMPLES });
const demoTarget = family.targets[0];
const datasetName = (task: StudyTask) => `demo/datasets/${task.id.replace('study/', '')}.csv`;
const csvOf = (task: StudyTask) => toCsv(['text', 'label'], task.train.texts.map((text, i) => [text, task.train.labels[i]]));

const work = await mkdtemp(join(tmpdir(), 'esmselect-demo-'));
const rows: string[] = [];
try {
  await rm(DEMO_ESMS_DIR, { recursive: true, force: true });
  await rm(DEMO_DATASETS_DIR, { recursive: true, force: true });
  await mkdir(DEMO_DATASETS_DIR, { recursive: true });
  await writeFileAtomic(join(DEMO, 'target.csv'), csvOf(demoTarget));
  for (const [index, task] of family.sources.entries()) {
    const name = datasetName(task);
    await writeFileAtomic(join(PACKAGE_ROOT, name), csvOf(task));
    const seed = sourceSeed(FULL_STUDY, index);
    let heldOutR2: number | null = null;
    const result = await runFinetune(
      {
        model: FULL_STUDY.model,
        source: { id: name, task: 'classification', texts: task.train.texts, labels: task.train.labels, split: 'train', textColumn: 'text', labelColumn: 'label' },
        target: { id: 'demo/target.csv', task: 'classification', texts: demoTarget.train.texts, labels: demoTarget.train.labels, textColumn: 'text', labelColumn: 'label' },
        intermediate: { ...INTERMEDIATE, seed },
        targetStage: { ...FULL_STUDY.targetStage, epochs: 1, seed },
        esm: { seed },
        outputDir: join(work, task.id.replace('study/', '')),
      },
      {
        registerEsm: async (esm, training) => {
          heldOutR2 = training.heldOutR2;
          await saveHfselectEsm(new EmbeddingSpaceMap({ ...esm.config, developers: DEVELOPERS, language: 'en' }, esm.weight, esm.bias), join(DEMO_ESMS_DIR, task.id.replace('study/', '')));
        },
      },
    );
    const accuracy = (result.intermediate.metrics as ClassificationMetrics).accuracy;
    const r2 = heldOutR2 === null ? '—' : (heldOutR2 as number).toFixed(3);
    rows.push(`| ${name} | ${task.classes.map(classLabel).join(', ')} | ${task.domain} | ${(100 * accuracy).toFixed(1)} % | ${r2} |`);
    process.stdout.write(`${name}: held-out accuracy ${accuracy.toFixed(3)}, ESM held-out R² ${r2}\n`);
  }

  // The ranking the README's curl example returns (the embedder and the default scorer, as the server ranks).
  const { embeddings, dataset } = await embedDataset(join(DEMO, 'target.csv'), { textColumns: 'text', labelColumn: 'label', model: FULL_STUDY.model });
  const ranking = await rank({ embeddings, labels: dataset.labels, esms: [DEMO_ESMS_DIR] });
  const targetGroups = new Set(demoTarget.classes.flat());
  const shared = (taskId: string) => {
    const task = family.sources.find((s) => datasetName(s) === taskId)!;
    return task.classes.map((c) => c.filter((g) => targetGroups.has(g)).map((g) => classLabel([g])).join('+')).filter(Boolean).join(', ') || '—';
  };
  const rankingRows = ranking.ranking.map((t) => `| ${t.rank} | ${t.task_id} | ${t.score.toFixed(4)} | ${shared(t.task_id)} |`);
  await writeFileAtomic(join(DEMO, 'README.md'), demoReadme(rows, rankingRows, (await readdir(DEMO_DATASETS_DIR)).length));
} finally {
  await rm(work, { recursive: true, force: true });
}

function demoReadme(sourceRows: string[], rankingRows: string[], datasets: number): string {
  const classes = demoTarget.classes.map(classLabel).join(', ');
  return `# Demo pool: ESMs of real fine-tunes on the study's synthetic tasks

*Generated by \`npx tsx scripts/make-demo-pool.ts\` (deterministic); do not edit by hand.*

\`npm start\` imports these ESMs into an empty registry and registers their datasets, so that a
fresh clone ranks offline within a minute and a ranked demo source resolves to the data to
fine-tune on. The tasks are synthetic; the fine-tunes and the ESMs are real.

- **Sources** (\`datasets/\`, ${datasets} CSV files with columns \`text\`, \`label\`): the study's ${family.sources.length} source
  tasks (README, "A miniature transfer study"; src/study/tasks.ts), the first ${DEMO_EXAMPLES} examples of
  each. A text's label names the keyword group(s) its keywords come from (\`g07\`, or \`g01+g00\` for a
  class that merges two groups); the other words come from the task's domain.
- **ESMs** (\`esms/<name>/\`, hfselect folders for \`tiny-bert\`): \`runFinetune\` fine-tuned
  models/tiny-bert (random weights, hidden size 32) on each source (${JSON.stringify(INTERMEDIATE)}), then fitted
  the ESM of the fine-tune from the base and the fine-tuned embeddings of the source texts with
  hfselect's recipe. Each \`config.json\` says \`base_model_name: tiny-bert\`, \`developers\` that it is
  a demo, and \`task_id\` \`demo/datasets/<name>.csv\`: the dataset's path from the package root.
- **Seeding** (src/server/demo.ts): into an empty registry the ESMs are imported and each dataset is
  copied to \`<data dir>/demo/datasets/\` and registered under that same name (split \`train\`,
  columns \`text\`/\`label\`), so \`findSourceDataset\` / \`findRankedSourceDataset\` resolve a ranked demo
  source to its data.
- **Target** (\`target.csv\`): the first ${TARGET_EXAMPLES} training examples of the study's ${demoTarget.id.replace('study/', '')}
  (classes ${classes}), for the README's curl example.

| source (task_id) | classes | domain | held-out accuracy of the fine-tune | ESM held-out R² |
|---|---|---|---|---|
${sourceRows.join('\n')}

What the README's curl example ranks (ESM-LogME of \`target.csv\`, top first), beside the target's
keyword groups among each source's classes (\`a+b\`: the source merges them into one class, which
teaches the opposite of what the target needs):

| rank | task_id | score | target groups in the source's classes |
|---|---|---|---|
${rankingRows.join('\n')}

To skip the demo pool: \`esmselect serve --no-demo\` or \`ESMSELECT_NO_DEMO=1\`.
`;
}
