import { mkdir, readFile } from 'node:fs/promises';
import { dirname, relative } from 'node:path';
import { writeFileAtomic } from '../src/io/atomic.js';
import type { TargetTruth } from './analysis.js';
import type { StudyRun } from './config.js';
import type { StudyMask } from './ground-truth.js';
import { METHOD_LABELS, type MethodName } from './methods.js';
import { mean, standardDeviation } from './metrics.js';
import { fixed, methodTable, metricsOf, percent, points, relationTable, type StudyResults, seconds, shortId, targetTable } from './report.js';

export const SECTION_BEGIN = '<!-- study:begin -->';
export const SECTION_END = '<!-- study:end -->';

/** The README's summary of the study, between these markers (the README places them). */
export const SUMMARY_BEGIN = '<!-- study-summary:begin -->';
export const SUMMARY_END = '<!-- study-summary:end -->';

/** The document with the study section replaced (or appended, the first time). */
export function replaceSection(doc: string, section: string, markers: readonly [string, string] = [SECTION_BEGIN, SECTION_END]): string {
  const [open, close] = markers;
  const block = `${open}\n${section}\n${close}`;
  const begin = doc.indexOf(open);
  const end = doc.indexOf(close);
  if (begin === -1 || end === -1 || end < begin) return `${doc.replace(/\n*$/, doc === '' ? '' : '\n\n')}${block}\n`;
  return `${doc.slice(0, begin)}${block}${doc.slice(end + close.length)}`;
}

/** Where the section's links point: each run's folder, relative to the document. */
export type RunLinks = Partial<Record<StudyRun, string>>;

/** Rewrites the study section of `doc` (created if missing) from the runs' results; links relative to it. */
export async function writeStudyDoc(doc: string, runs: Partial<Record<StudyRun, StudyResults>>, dirs: Record<StudyRun, string>): Promise<void> {
  const before = await readFile(doc, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  const links: RunLinks = { pretrained: relative(dirname(doc), dirs.pretrained), control: relative(dirname(doc), dirs.control) };
  await mkdir(dirname(doc), { recursive: true });
  await writeFileAtomic(doc, replaceSection(before, studySection(runs, links)));
}

/**
 * Rewrites the README's summary of the study from the runs' results: the two runs side by side and
 * what the numbers mean; `doc` is the full section, linked from there.
 */
export async function writeStudySummary(readme: string, runs: Partial<Record<StudyRun, StudyResults>>, doc: string): Promise<void> {
  const before = await readFile(readme, 'utf8');
  if (!before.includes(SUMMARY_BEGIN)) throw new Error(`${readme} has no ${SUMMARY_BEGIN} … ${SUMMARY_END} to write the study's summary into`);
  await writeFileAtomic(readme, replaceSection(before, studySummary(runs, relative(dirname(readme), doc)), [SUMMARY_BEGIN, SUMMARY_END]));
}

/** The README's part: the comparison table and its reading, the rest in the study's document. */
export function studySummary(runs: Partial<Record<StudyRun, StudyResults>>, docLink: string): string {
  const { pretrained, control } = runs;
  return [
    `*Written by \`npm run study\` from the two runs' results; the study in full, every table and how it is made: [${docLink}](${docLink}).*`,
    '',
    comparisonTable(control, pretrained),
    '',
    ...(pretrained ? ['What the numbers mean:', '', ...readingLines(pretrained, control)] : []),
  ].join('\n');
}

/** "mean m (a to b)" of some values. */
function range(values: readonly number[], digits: number, unit = ''): string {
  const f = (x: number) => `${fixed(x, digits)}${unit}`;
  return `mean ${f(mean(values))} (${f(Math.min(...values))} to ${f(Math.max(...values))})`;
}

const minutes = (totalSeconds: number) => `${(totalSeconds / 60).toFixed(1)} min`;
const meanGain = (truths: readonly TargetTruth[]) => mean(truths.flatMap((t) => t.gains));
const truthsOf = (results: StudyResults, mask: StudyMask) => results.truths.filter((t) => t.mask === mask);
const r2s = (results: StudyResults) => results.sources.flatMap((s) => (s.esmHeldOutR2 === null ? [] : [s.esmHeldOutR2]));
const cosines = (results: StudyResults) => results.scores.flatMap((s) => s.scores.textemb ?? []);
/** The spread of TextEmb's cosines within a target (SD over the sources), averaged over the targets: what it can rank by. */
const cosineSpread = (results: StudyResults) => mean(results.scores.map((s) => standardDeviation([...(s.scores.textemb ?? [])])));

/** "beats" or "does not beat", and by how much, for regret@3 against both of random and base-embedding LogME. */
function verdict(results: StudyResults, mask: StudyMask): string {
  const esm = metricsOf(results, 'esm-logme', mask).regret3;
  const random = metricsOf(results, 'random', mask).regret3;
  const base = metricsOf(results, 'base-logme', mask).regret3;
  const beats = esm < random && esm < base;
  const truth = mask === 'none' ? 'Vanilla' : 'GMT';
  const at1 = (method: MethodName) => fixed(metricsOf(results, method, mask).regret1);
  return `- **${truth} ground truth: ESM-LogME ${beats ? 'beats' : 'does not beat'} random and base-embedding LogME in regret@3** (${fixed(esm)} % against ${fixed(random)} % and ${fixed(base)} %; regret@1 ${at1('esm-logme')} % against ${at1('random')} %; the upper reference: regret@3 ${fixed(metricsOf(results, 'finetuned-logme', mask).regret3)} %, regret@1 ${at1('finetuned-logme')} %).`;
}

function noiseLine(results: StudyResults, mask: StudyMask): string {
  const noise = results.noise[mask];
  const name = mask === 'none' ? 'vanilla' : 'GMT';
  if (noise.repeatSd === null)
    return `- ${name}: one repeat per pair, so the seed noise is not measured; true gains spread by ${percent(noise.gainSpread)} points (SD across sources, mean over targets).`;
  // A gain is the difference of two independent means: √2 times the noise of one.
  return `- ${name}: a single fine-tune's test accuracy varies with its seed by ${percent(noise.repeatSd)} points (pooled SD over repeats), so a ${results.config.repeats}-repeat mean carries about ${percent(noise.meanSd!)} points and a gain about ${percent(noise.meanSd! * Math.SQRT2)}; the true gains spread across sources by ${percent(noise.gainSpread)} points (SD, mean over targets).`;
}

/** Step 1 of a run's description: its tasks. */
function tasksStep(results: StudyResults, link: string): string {
  const { config } = results;
  if (config.tasks === 'synthetic') {
    const f = config.family;
    return `1. **Tasks** (study/tasks.ts, listed in [tasks.md](${link}/tasks.md)): ${f.groups} keyword groups of ${f.groupSize} words (the latent topics) and ${f.domains} domains of ${f.domainSize} words (neighbouring domains share ${f.domainSize - f.domainStep}) are dealt from words of tiny-bert's vocabulary. A text has ${f.textLength[0]}–${f.textLength[1]} words: one or two keywords of its class's group(s), with probability ${f.distractorProbability} a keyword of a group its task does not use, the rest words of the task's domain or function words. ${f.sources} sources have ${f.sourceClasses[0]}–${f.sourceClasses[1]} classes (with probability ${f.mergeProbability} a class merges two groups) and ${f.sourceExamples} examples; ${f.targets} targets have ${f.targetClasses} single-group classes and ${f.targetTrain} training, ${f.targetValidation} validation and ${f.targetTest} test examples. A source helps a target when it teaches the target's groups apart, and may hurt when it merges them or makes a target's distractor salient.`;
  }
  const f = config.family;
  const usage = results.tasks.filter((t) => t.role === 'source' && t.domain === 1).length;
  return `1. **Tasks** (study/wordnet/tasks.ts, listed in [tasks.md](${link}/tasks.md)): which lexicographer file (\`noun.animal\`, \`verb.motion\`, …) a WordNet gloss belongs to, among ${f.targetClasses[0]}–${f.targetClasses[1]} files of one part of speech; texts of at most ${f.maxWords} words. ${f.targets} targets of definitions, ${f.targetTrain} training, ${f.targetValidation} validation and ${f.targetTest} test examples each (with probability ${f.coarseTargetProbability} one class merges a natural pair of files, such as \`animal-or-plant\`). ${f.sources} sources of about ${f.sourceExamples} examples (${usage} of them usage examples rather than definitions), each built from a target by one relation: the same classes (share), a merged class told apart (split), two classes merged (merge), a class replaced (miss), or files of the other part of speech (unrelated). No synset is in both a source and a target. Most (source, target) pairs are unrelated: each target has one or two sources built from it, and shares files with a few others.`;
}

/** A run's subsection: how it is built, the method table, the per-target table, what the methods see, noise, time. */
function runBody(results: StudyResults, link: string): string[] {
  const { config } = results;
  const f = config.family;
  const vanilla = truthsOf(results, 'none');
  const gmt = truthsOf(results, 'gmt');
  const model = config.tasks === 'wordnet' ? `${config.model} (pretrained)` : `${config.model} (random weights)`;
  const loaded = Math.max(...results.environment.loadAverage) > results.environment.cpus;
  const processes = results.environment.processes > 1 ? `, the ground truth in ${results.environment.processes} processes` : '';
  return [
    tasksStep(results, link),
    `2. **Sources**: \`runFinetune\` fine-tunes ${model} on each source (intermediate stage: ${JSON.stringify(config.intermediate)}), trains the ESM of the fine-tune from base and fine-tuned embeddings of the source texts and registers it in the run's registry ([sources.md](${link}/sources.md)).`,
    `3. **Selection** per target, over the same ${f.sources} sources: ESM-LogME (\`rank\` with the registry pool, ${results.environment.scorer}), random (exact expectation over rankings), TextEmb (cosine of the mean base embeddings of source and target texts), LogME on the base embeddings without ESMs, and the expensive upper reference, LogME on the target embedded by each actually fine-tuned source model. LogME on base embeddings is ESM-LogME with the identity map for every source: one score for all sources, so its regret is random's (ties are broken uniformly at random, in expectation) and its ρ is undefined; it is the baseline that shows what the ESMs add.`,
    `4. **Ground truth**: every target fine-tuned from every source's intermediate checkpoint and from the base model (target only), vanilla and with GMT in the target stage (${JSON.stringify(config.targetStage)}, best epoch by validation accuracy), ${config.repeats} seed${config.repeats > 1 ? 's' : ''} each: ${results.pairs.length} target fine-tunes. Outcome: test accuracy averaged over the seeds; gain = accuracy(source → target) − accuracy(target only).`,
    '',
    `Regret@k = 100 · (best source's accuracy − best accuracy among the method's top k) / best source's accuracy (Poth et al., 2021; Schulte et al., 2024), averaged over the ${f.targets} targets; ρ is Spearman's correlation of the method's scores with the true gains per target, averaged. "Once per pool" is what the method spends on the source pool before any target (the source fine-tunes themselves, ${seconds(results.sources.reduce((s, x) => s + x.seconds.intermediate, 0))} s in all, are needed by ESM-LogME and the upper reference alike and are not counted), "disk" what it keeps, "per target" its time for one target (the target's base embedding counted for every method that needs it).`,
    '',
    methodTable(results),
    '',
    verdict(results, 'none'),
    verdict(results, 'gmt'),
    '',
    ...(config.tasks === 'wordnet'
      ? [
          "By how each source's classes stand to the target's (study/wordnet/relations.ts; every (source, target) pair, built so or not), the true gains and the mean rank each method gives such sources:",
          '',
          relationTable(results),
          '',
        ]
      : []),
    targetTable(results),
    '',
    `Mean gain over all pairs: ${points(meanGain(vanilla))} points vanilla, ${points(meanGain(gmt))} with GMT. What the methods see:`,
    '',
    `- The fine-tunes learned their sources to a held-out accuracy of ${range(
      results.sources.map((s) => 100 * s.sourceAccuracy),
      1,
      ' %',
    )}; the ESMs' held-out R² (how much of the fine-tuned embeddings the linear map from the base embeddings explains): ${range(r2s(results), 3)} over the ${results.sources.length} ESMs ([sources.md](${link}/sources.md)).`,
    `- TextEmb's cosines: ${range(cosines(results), 4)}; within a target they spread by ${fixed(cosineSpread(results), 4)} (SD over the sources, mean over the targets).`,
    '',
    'Noise of the ground truth:',
    '',
    noiseLine(results, 'none'),
    noiseLine(results, 'gmt'),
    `- The target stage of each source's runner job (on the first target) and the study's own fine-tune of the same pair from the job's intermediate checkpoint differ by at most ${fixed(100 * results.reproduction.maxDifference, 2)} accuracy points over the ${results.reproduction.pairs} pairs.`,
    '',
    `![Predicted score vs real gain](${link}/plot.svg)`,
    '',
    `Measured on ${results.environment.cpus} cores (Node ${results.environment.node}, ${results.environment.tensorflow}${processes}; load average ${results.environment.loadAverage.map((l) => l.toFixed(1)).join(' at the start, ')} at the end${loaded ? ', so other work shared the cores' : ''}): the run took **${minutes(results.seconds.total)}** wall time (sources ${minutes(results.seconds.sources)}, selection ${minutes(results.seconds.methods)}, ground truth ${minutes(results.seconds.groundTruth)}) and ${minutes(results.seconds.cpu)} of CPU time. Artefacts in [${link}/](${link}/): results.json (everything), table.md, tasks.md, sources.md, pairs.csv (every fine-tune), scores.csv (scores beside gains), metrics.csv (per target), plot.svg, study.log.`,
  ];
}

/** The two runs side by side: what the ESMs explain, what TextEmb sees, and how every method ranks. */
export function comparisonTable(control: StudyResults | undefined, pretrained: StudyResults | undefined): string {
  const cell = (results: StudyResults | undefined, value: (r: StudyResults) => string) => (results ? value(results) : '—');
  const row = (label: string, value: (r: StudyResults) => string) => `| ${label} | ${cell(control, value)} | ${cell(pretrained, value)} |`;
  const metric =
    (method: MethodName, key: 'regret1' | 'regret3' | 'spearman', mask: StudyMask = 'none') =>
    (r: StudyResults) =>
      method === 'random' && key === 'spearman' ? '0' : fixed(metricsOf(r, method, mask)[key]);
  const label = (method: MethodName) => METHOD_LABELS[method].replace(/ \(.*/, '');
  const rows = [
    row(
      'model; tasks',
      (r) =>
        `${r.config.model} (${r.config.tasks === 'wordnet' ? 'pretrained' : 'random weights'}); ${r.config.tasks === 'wordnet' ? 'WordNet glosses' : 'synthetic keyword texts'}`,
    ),
    row('sources × targets; target fine-tunes', (r) => `${r.sources.length} × ${r.truths.length / 2}; ${r.pairs.length}`),
    row('ESM held-out R², mean (min to max)', (r) => range(r2s(r), 3).replace('mean ', '')),
    row('TextEmb cosines, mean (min to max)', (r) => range(cosines(r), 4).replace('mean ', '')),
    row("TextEmb cosines' spread within a target (SD)", (r) => fixed(cosineSpread(r), 4)),
    row('target-only test accuracy, mean', (r) => `${percent(mean(truthsOf(r, 'none').map((t) => t.baseline)))} %`),
    row(
      "true gains: mean; spread across sources (SD); a gain's seed noise",
      (r) =>
        `${points(meanGain(truthsOf(r, 'none')))}; ${percent(r.noise.none.gainSpread)}; ${r.noise.none.meanSd === null ? '—' : percent(r.noise.none.meanSd * Math.SQRT2)} points`,
    ),
    ...(['esm-logme', 'finetuned-logme', 'textemb', 'random'] as const).map((m) => row(`regret@1 (%), ${label(m)}`, metric(m, 'regret1'))),
    ...(['esm-logme', 'finetuned-logme', 'textemb', 'random'] as const).map((m) => row(`regret@3 (%), ${label(m)}`, metric(m, 'regret3'))),
    ...(['esm-logme', 'finetuned-logme', 'textemb'] as const).map((m) => row(`Spearman ρ with gains, ${label(m)}`, metric(m, 'spearman'))),
    row(
      'GMT ground truth: regret@3 (%), ESM-LogME against random',
      (r) => `${fixed(metricsOf(r, 'esm-logme', 'gmt').regret3)} against ${fixed(metricsOf(r, 'random', 'gmt').regret3)}`,
    ),
    row('wall time (CPU time)', (r) => `${minutes(r.seconds.total)} (${minutes(r.seconds.cpu)})`),
  ];
  return ['| | control | pretrained |', '|---|---|---|', ...rows].join('\n');
}

const METHODS_BELOW_UPPER = ['textemb', 'base-logme', 'random'] as const;

/**
 * What the numbers mean, worded from them (so it cannot go stale): what the pretrained model
 * changes against the control, and where ESM-LogME loses, to which method and on which targets.
 */
export function readingLines(pretrained: StudyResults, control: StudyResults | undefined): string[] {
  const r2 = mean(r2s(pretrained));
  const spread = cosineSpread(pretrained);
  const lines: string[] = [];
  if (control) {
    const r2Control = mean(r2s(control));
    const spreadControl = cosineSpread(control);
    lines.push(
      `- **What the ESMs explain.** On held-out texts the ESMs explain R² ${fixed(r2, 3)} of the fine-tuned embeddings of wordnet-bert on average, against ${fixed(r2Control, 3)} for the random-weight control: ${r2 > r2Control ? "a pretrained model's fine-tune is a change that a linear map from its base embeddings follows far better, which is the premise of ESMs" : 'pretraining did not make the fine-tunes easier to follow with a linear map here'}.`,
      `- **What TextEmb sees.** Within a target, TextEmb's cosines spread by ${fixed(spread, 4)} (SD over the sources) on wordnet-bert against ${fixed(spreadControl, 4)} on the control: ${spread > 3 * spreadControl ? 'the pretrained base embeddings tell the texts of different files apart, so TextEmb is a real baseline here, no longer noise' : 'still too little to rank by more than noise'}.`,
    );
  }
  const gains = truthsOf(pretrained, 'none').flatMap((t) => t.gains);
  const helped = gains.filter((g) => g > 0).length;
  lines.push(
    `- **Whether transfer helps.** Over all ${gains.length} (source, target) pairs the mean gain is ${points(mean(gains))} points and ${helped} of them gain${mean(gains) < 0 ? ': on this model an intermediate task more often hurts than helps, so a selection method earns its keep as much by keeping the harmful sources out of its top picks as by finding the best one' : ''}.`,
  );
  const esm = metricsOf(pretrained, 'esm-logme', 'none');
  const losses: string[] = [];
  for (const method of METHODS_BELOW_UPPER) {
    const other = metricsOf(pretrained, method, 'none');
    const worse: string[] = [];
    if (other.regret1 < esm.regret1) worse.push(`regret@1 ${fixed(other.regret1)} % against ${fixed(esm.regret1)} %`);
    if (other.regret3 < esm.regret3) worse.push(`regret@3 ${fixed(other.regret3)} % against ${fixed(esm.regret3)} %`);
    if (method !== 'random' && other.spearman !== null && esm.spearman !== null && other.spearman > esm.spearman)
      worse.push(`ρ ${fixed(other.spearman)} against ${fixed(esm.spearman)}`);
    if (worse.length > 0) losses.push(`${METHOD_LABELS[method].replace(/ \(.*/, '')} (${worse.join('; ')})`);
  }
  lines.push(
    losses.length === 0
      ? `- **ESM-LogME against the cheap methods** (vanilla ground truth): it does at least as well as TextEmb, base-embedding LogME and random in regret@1, regret@3 and ρ.`
      : `- **Where ESM-LogME loses** (vanilla ground truth): it is beaten by ${losses.join(', and by ')}.`,
  );
  const random = metricsOf(pretrained, 'random', 'none');
  const behind = esm.perTarget.filter((t) => t.regret3 > random.perTarget.find((r) => r.target === t.target)!.regret3);
  const upper = metricsOf(pretrained, 'finetuned-logme', 'none');
  lines.push(
    `- **Target by target**, ESM-LogME's top three do worse than a random three on ${behind.length} of ${esm.perTarget.length} targets${behind.length > 0 ? ` (${behind.map((t) => shortId(t.target)).join(', ')})` : ''}. The upper reference, which embeds each target with every fine-tuned model, reaches regret@1 ${fixed(upper.regret1)} % and regret@3 ${fixed(upper.regret3)} % (ρ ${fixed(upper.spearman)}): the gap to it is what the linear maps lose against the fine-tuned models themselves.`,
  );
  const noise = pretrained.noise.none;
  if (noise.meanSd !== null) {
    const gainNoise = noise.meanSd * Math.SQRT2;
    lines.push(
      `- **How much the ground truth can tell.** The true gains spread across sources by ${percent(noise.gainSpread)} points while a gain carries ${percent(gainNoise)} points of seed noise${noise.gainSpread < 2 * gainNoise ? ': much of what separates the sources of a target is noise, so differences of a few points of regret between methods are not significant' : ': the sources differ by clearly more than the noise, so the ranking being predicted is real'}. It is a miniature: ${pretrained.sources.length} sources and ${pretrained.truths.length / 2} targets of a tiny model; the figures do not compare with the paper's.`,
    );
  }
  return lines;
}

/** The whole generated section: the two runs side by side, then each run in full. */
export function studySection(runs: Partial<Record<StudyRun, StudyResults>>, links: RunLinks): string {
  const { pretrained, control } = runs;
  const from = (['pretrained', 'control'] as const).filter((r) => runs[r]).map((r) => `${links[r]}/results.json`);
  const lines = [
    '## Does ESM-LogME pick intermediate tasks that help? A transfer study in miniature',
    '',
    `*This section is written by \`npm run study\` (study/) from ${from.join(' and ')}; do not edit it by hand.*`,
    '',
    "The paper's evidence is that ESM-LogME picks intermediate tasks that really help. `npm run study` runs that experiment in miniature with this project's own pipeline (the runner's fine-tunes, ESMs trained from them and registered, `rank` over the registry), deterministically from a seed, in a temporary data dir, twice:",
    '',
    "- **the pretrained run** (`npm run study`): models/wordnet-bert, a small BERT pretrained on WordNet's glosses, on classification tasks drawn from WordNet (which lexicographer file a gloss belongs to);",
    '- **the control** (`npm run study -- --control`): models/tiny-bert, whose weights are random, on synthetic tasks of keyword texts with a planted structure.',
    '',
    "The two differ in the model and in the tasks alike; the control is the study as it was before a pretrained model was at hand. `npm run study -- --smoke` (with `--control`: the control's) runs the same pipeline on 3 sources and 2 targets in about a minute (a test does); `npm run study -- --render` writes the tables, the plots and this section again from the two results.json files.",
    '',
    '### The two runs side by side',
    '',
    comparisonTable(control, pretrained),
    '',
    ...(pretrained ? ['What the numbers mean:', '', ...readingLines(pretrained, control), ''] : []),
    ...(pretrained ? ['### The pretrained run: wordnet-bert on WordNet tasks', '', ...runBody(pretrained, links.pretrained!), ''] : []),
    ...(control ? ['### The control: random-weight tiny-bert on synthetic tasks', '', ...runBody(control, links.control!), ''] : []),
  ];
  return lines.join('\n').replace(/\n+$/, '');
}
