/**
 * Makes the demo pool that `npm start` serves on a fresh clone: `npx tsx scripts/make-demo-pool.ts`.
 * Deterministic from the study's seed; writes demo/datasets/, demo/esms/, demo/target.csv and
 * demo/README.md (all of it generated; edit this script, not the output).
 *
 * The demo tasks are WordNet tasks chosen by hand (study/wordnet/tasks.ts, `wordNetTasks`), so
 * that a first ranking names tasks a person reads at once: the target tells animal, plant and food
 * glosses apart, and the sources range from the same classes (other synsets) to verbs of motion.
 * Their ESMs are those of real fine-tunes: `runFinetune` trains models/wordnet-bert on each source
 * (the study's intermediate settings, more epochs for the smaller data), fits the ESM of the
 * fine-tune and hands it over; it is saved with `developers` and `language` added. Each ESM's
 * task_id is its dataset's path from the package root, `demo/datasets/<name>.csv`, the name
 * `esmselect finetune --source` gives a task read from that file, and the name the server's demo
 * seeding registers the dataset under (src/server/demo.ts), so a ranked demo source resolves to its data.
 */
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
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
import { PRETRAINED_STUDY, sourceSeed } from '../study/config.js';
import { toCsv } from '../study/report.js';
import { readCorpus } from '../study/wordnet/corpus.js';
import { pairRelation } from '../study/wordnet/relations.js';
import { classLabel, type WordNetTask, type WordNetTaskSpec, wordNetTasks } from '../study/wordnet/tasks.js';

const MODEL = PRETRAINED_STUDY.model;
const SOURCE_EXAMPLES = 240;
const TARGET_EXAMPLES = 90;
/**
 * The study's intermediate settings with more epochs for the smaller data (150 optimiser steps, a
 * study source takes about 90), all of them: early stopping on 24 held-out examples would end
 * some fine-tunes on noise.
 */
const INTERMEDIATE = { ...PRETRAINED_STUDY.intermediate, epochs: 10, patience: 0 };
const DEVELOPERS = 'esmselect demo pool: ESMs of real fine-tunes of wordnet-bert on WordNet tasks (see demo/README.md)';
const DEMO = join(PACKAGE_ROOT, 'demo');

const spec = (textKind: WordNetTaskSpec['textKind'], ...classes: string[]): WordNetTaskSpec => ({ classNames: classes.map((c) => c.split('+')), textKind });
const TARGET = spec('definition', 'noun.animal', 'noun.plant', 'noun.food');
/** From the target's own classes to verbs: what a sensible ranking puts first and last is plain to see. */
const SOURCES = [
  spec('definition', 'noun.animal', 'noun.plant', 'noun.food'),
  spec('definition', 'noun.animal', 'noun.plant'),
  spec('definition', 'noun.animal+noun.plant', 'noun.food'),
  spec('definition', 'noun.food', 'noun.substance'),
  spec('definition', 'noun.animal', 'noun.person'),
  spec('definition', 'noun.plant', 'noun.artifact'),
  spec('definition', 'noun.body', 'noun.feeling'),
  spec('definition', 'noun.location', 'noun.time'),
  spec('example', 'noun.act', 'noun.communication'),
  spec('definition', 'verb.perception', 'verb.body'),
  spec('definition', 'verb.motion', 'verb.communication'),
  spec('definition', 'verb.contact', 'verb.change'),
];

const tasks = wordNetTasks(
  await readCorpus(),
  { targets: [TARGET], sources: SOURCES },
  { ...PRETRAINED_STUDY.family, sourceExamples: SOURCE_EXAMPLES, targetTrain: TARGET_EXAMPLES, targetValidation: 30, targetTest: 30 },
);
const demoTarget = tasks.targets[0];
const datasetName = (task: WordNetTask) => `demo/datasets/${task.name}.csv`;
const csvOf = (task: WordNetTask) =>
  toCsv(
    ['text', 'label'],
    task.train.texts.map((text, i) => [text, task.train.labels[i]]),
  );
const relation = (task: WordNetTask) => pairRelation(task.classNames.map(classLabel), demoTarget.classNames.map(classLabel));

const work = await mkdtemp(join(tmpdir(), 'esmselect-demo-'));
const rows: string[] = [];
try {
  await rm(DEMO_ESMS_DIR, { recursive: true, force: true });
  await rm(DEMO_DATASETS_DIR, { recursive: true, force: true });
  await mkdir(DEMO_DATASETS_DIR, { recursive: true });
  await writeFileAtomic(join(DEMO, 'target.csv'), csvOf(demoTarget));
  for (const [index, task] of tasks.sources.entries()) {
    const name = datasetName(task);
    await writeFileAtomic(join(PACKAGE_ROOT, name), csvOf(task));
    const seed = sourceSeed(PRETRAINED_STUDY, index);
    let heldOutR2: number | null = null;
    const result = await runFinetune(
      {
        model: MODEL,
        source: {
          id: name,
          task: 'classification',
          texts: task.train.texts,
          labels: task.train.labels,
          split: 'train',
          textColumn: 'text',
          labelColumn: 'label',
        },
        target: {
          id: 'demo/target.csv',
          task: 'classification',
          texts: demoTarget.train.texts,
          labels: demoTarget.train.labels,
          textColumn: 'text',
          labelColumn: 'label',
        },
        intermediate: { ...INTERMEDIATE, seed },
        targetStage: { ...PRETRAINED_STUDY.targetStage, epochs: 1, seed },
        esm: { seed },
        outputDir: join(work, task.name),
      },
      {
        registerEsm: async (esm, training) => {
          heldOutR2 = training.heldOutR2;
          await saveHfselectEsm(
            new EmbeddingSpaceMap({ ...esm.config, developers: DEVELOPERS, language: 'en' }, esm.weight, esm.bias),
            join(DEMO_ESMS_DIR, task.name),
          );
        },
      },
    );
    const accuracy = (result.intermediate.metrics as ClassificationMetrics).accuracy;
    const r2 = heldOutR2 === null ? '—' : (heldOutR2 as number).toFixed(3);
    rows.push(
      `| ${name} | ${task.classNames.map(classLabel).join(', ')} | ${task.textKind === 'example' ? 'usage examples' : 'definitions'} | ${(100 * accuracy).toFixed(1)} % | ${r2} |`,
    );
    process.stdout.write(`${name}: held-out accuracy ${accuracy.toFixed(3)}, ESM held-out R² ${r2}\n`);
  }

  // The ranking the README's curl example returns (the embedder and the default scorer, as the server ranks).
  const { embeddings, dataset } = await embedDataset(join(DEMO, 'target.csv'), { textColumns: 'text', labelColumn: 'label', model: MODEL });
  const ranking = await rank({ embeddings, labels: dataset.labels, esms: [DEMO_ESMS_DIR] });
  const byName = new Map(tasks.sources.map((t) => [datasetName(t), t]));
  const rankingRows = ranking.ranking.map((t) => `| ${t.rank} | ${t.task_id} | ${t.score.toFixed(4)} | ${relation(byName.get(t.task_id)!)} |`);
  let bytes = (await stat(join(DEMO, 'target.csv'))).size;
  for (const dir of [DEMO_DATASETS_DIR, ...(await readdir(DEMO_ESMS_DIR)).map((e) => join(DEMO_ESMS_DIR, e))]) {
    for (const file of await readdir(dir)) bytes += (await stat(join(dir, file))).size;
  }
  await writeFileAtomic(join(DEMO, 'README.md'), demoReadme(rows, rankingRows, (await readdir(DEMO_DATASETS_DIR)).length, bytes));
} finally {
  await rm(work, { recursive: true, force: true });
}

function demoReadme(sourceRows: string[], rankingRows: string[], datasets: number, bytes: number): string {
  const classes = demoTarget.classNames.map(classLabel).join(', ');
  return `# Demo pool: ESMs of real fine-tunes of wordnet-bert on WordNet tasks

*Generated by \`npx tsx scripts/make-demo-pool.ts\` (deterministic); do not edit by hand.*

\`npm start\` imports these ESMs into an empty registry and registers their datasets, so that a
fresh clone ranks offline within a minute and a ranked demo source resolves to the data to
fine-tune on. The texts are WordNet 3.0's glosses (corpora/wordnet/, WordNet's licence); the
fine-tunes and the ESMs are real, of models/wordnet-bert, a small BERT pretrained on those glosses
(its model card says what it is: tiny, and no general-purpose English model). ${(bytes / 1024).toFixed(0)} KiB in all.

- **Sources** (\`datasets/\`, ${datasets} CSV files with columns \`text\`, \`label\`): which lexicographer
  file a WordNet text belongs to (\`noun.animal\`, \`verb.motion\`, …; \`noun.animal+noun.plant\` is a class
  that merges two), ${SOURCE_EXAMPLES} definitions or usage examples of at most ${PRETRAINED_STUDY.family.maxWords} words per task, chosen by
  hand (scripts/make-demo-pool.ts) to range from the target's own classes to verbs. None of their
  synsets is in the target.
- **ESMs** (\`esms/<name>/\`, hfselect folders for \`${MODEL}\`): \`runFinetune\` fine-tuned
  models/${MODEL} on each source (${JSON.stringify(INTERMEDIATE)}), then fitted the ESM of the
  fine-tune from the base and the fine-tuned embeddings of the source texts with hfselect's recipe.
  Each \`config.json\` says \`base_model_name: ${MODEL}\`, \`developers\` that it is a demo, and
  \`task_id\` \`demo/datasets/<name>.csv\`: the dataset's path from the package root.
- **Seeding** (src/server/demo.ts): into an empty registry the ESMs are imported and each dataset is
  copied to \`<data dir>/demo/datasets/\` and registered under that same name (split \`train\`,
  columns \`text\`/\`label\`), so \`findSourceDataset\` / \`findRankedSourceDataset\` resolve a ranked demo
  source to its data.
- **Target** (\`target.csv\`): ${TARGET_EXAMPLES} WordNet definitions labelled ${classes}: tell
  animal, plant and food glosses apart. The README's curl example ranks it.

| source (task_id) | classes | texts | held-out accuracy of the fine-tune | ESM held-out R² |
|---|---|---|---|---|
${sourceRows.join('\n')}

What the README's curl example ranks (ESM-LogME of \`target.csv\`, top first), beside how each
source's classes stand to the target's (study/wordnet/relations.ts: \`share\` the same classes,
\`merge\` two of them merged, \`overlap\` some files in common, \`disjoint\` none):

| rank | task_id | score | source's classes against the target's |
|---|---|---|---|
${rankingRows.join('\n')}

To skip the demo pool: \`esmselect serve --no-demo\` or \`ESMSELECT_NO_DEMO=1\`.
`;
}
