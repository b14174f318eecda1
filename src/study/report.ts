import type { MethodMetrics, NoiseSummary, TargetTruth } from './analysis.js';
import type { StudyConfig } from './config.js';
import { MASKS, type PairRun, type StudyMask } from './ground-truth.js';
import { METHOD_LABELS, METHODS, type MethodName, type PoolCost, type TargetScores } from './methods.js';
import { mean } from './metrics.js';
import { scatterSvg } from './plot.js';
import { classLabel, groupName, type TaskFamily } from './tasks.js';

/** Everything a run measured; results.json holds it and every table is written from it. */
export interface StudyResults {
  readonly version: 1;
  readonly smoke: boolean;
  readonly config: StudyConfig;
  readonly environment: {
    readonly node: string;
    readonly cpus: number;
    readonly tensorflow: string;
    readonly scorer: string;
    /** The machine's 1-minute load average when the run started and when it ended: how shared the cores were. */
    readonly loadAverage: readonly [number, number];
  };
  readonly tasks: readonly TaskSummary[];
  readonly sources: readonly SourceSummary[];
  readonly pairs: readonly PairRun[];
  readonly truths: readonly TargetTruth[];
  readonly scores: readonly TargetScores[];
  readonly metrics: readonly MethodMetrics[];
  readonly costs: readonly MethodCost[];
  readonly noise: Record<StudyMask, NoiseSummary>;
  /** The runner's own target stage against the study's recomputation of the same pair. */
  readonly reproduction: { readonly pairs: number; readonly maxDifference: number };
  /** Wall seconds of each phase and of the whole run, and the CPU seconds (user + system) the run's process used. */
  readonly seconds: { readonly sources: number; readonly methods: number; readonly groundTruth: number; readonly total: number; readonly cpu: number };
}

export interface TaskSummary {
  readonly id: string;
  readonly role: 'source' | 'target';
  readonly domain: number;
  readonly classes: readonly string[];
  readonly examples: { readonly train: number; readonly validation: number | null; readonly test: number | null };
  readonly example: string;
}

export interface SourceSummary {
  readonly id: string;
  readonly esmId: number;
  readonly esmBytes: number;
  readonly esmHeldOutR2: number | null;
  readonly modelBytes: number;
  readonly sourceAccuracy: number;
  readonly seconds: { readonly intermediate: number; readonly esm: number; readonly target: number };
}

export interface MethodCost extends PoolCost {
  readonly method: MethodName;
  /** Mean over the targets. */
  readonly perTargetSeconds: number;
}

export function summariseTasks(family: TaskFamily): TaskSummary[] {
  return [...family.sources, ...family.targets].map((t) => ({
    id: t.id,
    role: t.role,
    domain: t.domain,
    classes: t.classes.map(classLabel),
    examples: { train: t.train.texts.length, validation: t.validation?.texts.length ?? null, test: t.test?.texts.length ?? null },
    example: `${t.train.texts[0]} → ${String(t.train.labels[0])}`,
  }));
}

const percent = (x: number) => (100 * x).toFixed(1);
const points = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(100 * x).toFixed(1)}`;
const fixed = (x: number | null, digits = 2) => (x === null ? 'undefined' : x.toFixed(digits).replace(/^-/, '−'));
const seconds = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(0));
const kib = (bytes: number) => (bytes === 0 ? '0' : `${(bytes / 1024).toFixed(1)} KiB`);

function metricsOf(results: StudyResults, method: MethodName, mask: StudyMask): MethodMetrics {
  return results.metrics.find((m) => m.method === method && m.mask === mask)!;
}

function spearmanCell(results: StudyResults, method: MethodName, mask: StudyMask): string {
  if (method === 'random') return '0 (expected)';
  return fixed(metricsOf(results, method, mask).spearman);
}

/** The paper's table: per method, regret@1, regret@3 and ρ against both ground truths, and what the method cost. */
export function methodTable(results: StudyResults): string {
  const header = [
    '| method | regret@1 (%) | regret@3 (%) | Spearman ρ with gains | regret@1, GMT (%) | regret@3, GMT (%) | ρ, GMT | once per pool | disk | per target |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  const rows = METHODS.map((method) => {
    const vanilla = metricsOf(results, method, 'none');
    const gmt = metricsOf(results, method, 'gmt');
    const cost = results.costs.find((c) => c.method === method)!;
    return `| ${METHOD_LABELS[method]} | ${fixed(vanilla.regret1)} | ${fixed(vanilla.regret3)} | ${spearmanCell(results, method, 'none')} | ${fixed(gmt.regret1)} | ${fixed(gmt.regret3)} | ${spearmanCell(results, method, 'gmt')} | ${seconds(cost.seconds)} s | ${kib(cost.bytes)} | ${seconds(cost.perTargetSeconds)} s |`;
  });
  return [...header, ...rows].join('\n');
}

function argmax(values: readonly number[]): number {
  return values.reduce((best, v, i) => (v > values[best] ? i : best), 0);
}

/** Per target: its classes, the no-transfer accuracy, the best source and what ESM-LogME and the upper reference picked. */
export function targetTable(results: StudyResults): string {
  const sourceIds = results.sources.map((s) => s.id);
  const header = [
    '| target | classes (domain) | target only | best source: gain | sources with gain > 0 | ESM-LogME top 1: gain | upper reference top 1: gain | TextEmb top 1: gain | regret@3 (%): ESM-LogME, random, upper reference | ρ: ESM-LogME, upper reference |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  const pick = (scores: readonly number[] | null, gains: readonly number[]) => {
    if (!scores) return '—';
    const i = argmax(scores);
    return `${sourceIds[i].replace('study/', '')}: ${points(gains[i])}`;
  };
  const rows = results.truths
    .filter((t) => t.mask === 'none')
    .map((truth) => {
      const task = results.tasks.find((t) => t.id === truth.target)!;
      const scores = results.scores.find((s) => s.target === truth.target)!.scores;
      const best = argmax(truth.gains);
      const helping = truth.gains.filter((g) => g > 0).length;
      const of = (method: MethodName) => metricsOf(results, method, 'none').perTarget.find((t) => t.target === truth.target)!;
      return `| ${truth.target.replace('study/', '')} | ${task.classes.join(', ')} (${task.domain}) | ${percent(truth.baseline)} % | ${sourceIds[best].replace('study/', '')}: ${points(truth.gains[best])} | ${helping} of ${truth.gains.length} | ${pick(scores['esm-logme'], truth.gains)} | ${pick(scores['finetuned-logme'], truth.gains)} | ${pick(scores.textemb, truth.gains)} | ${fixed(of('esm-logme').regret3)}, ${fixed(of('random').regret3)}, ${fixed(of('finetuned-logme').regret3)} | ${fixed(of('esm-logme').spearman)}, ${fixed(of('finetuned-logme').spearman)} |`;
    });
  return [...header, ...rows].join('\n');
}

export function taskTable(results: StudyResults): string {
  const header = ['| task | domain | classes (keyword groups) | train | validation | test | example |', '|---|---|---|---|---|---|---|'];
  const rows = results.tasks.map((t) => `| ${t.id} | ${t.domain} | ${t.classes.join(', ')} | ${t.examples.train} | ${t.examples.validation ?? '—'} | ${t.examples.test ?? '—'} | ${t.example} |`);
  return [...header, ...rows].join('\n');
}

export function sourceTable(results: StudyResults): string {
  const header = ['| source | held-out accuracy | ESM held-out R² | fine-tune | ESM step | ESM | model |', '|---|---|---|---|---|---|---|'];
  const rows = results.sources.map(
    (s) => `| ${s.id} | ${percent(s.sourceAccuracy)} % | ${s.esmHeldOutR2 === null ? '—' : s.esmHeldOutR2.toFixed(3)} | ${seconds(s.seconds.intermediate)} s | ${seconds(s.seconds.esm)} s | ${kib(s.esmBytes)} | ${kib(s.modelBytes)} |`,
  );
  return [...header, ...rows].join('\n');
}

function csvCell(value: unknown): string {
  const text = value === null || value === undefined || (typeof value === 'number' && Number.isNaN(value)) ? '' : String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** RFC 4180 CSV: cells quoted where they hold a comma, quote or newline; NaN and null left empty. */
export function toCsv(header: readonly string[], rows: readonly (readonly unknown[])[]): string {
  return `${[header, ...rows].map((row) => row.map(csvCell).join(',')).join('\n')}\n`;
}

/** Every target-stage fine-tune, one row each. */
export function pairsCsv(results: StudyResults): string {
  return toCsv(
    ['source', 'target', 'mask', 'repeat', 'seed', 'test_accuracy', 'validation_accuracy', 'best_epoch', 'seconds'],
    results.pairs.map((p) => [p.source ?? '(target only)', p.target, p.mask, p.repeat, p.seed, p.testAccuracy, p.validationAccuracy, p.bestEpoch, p.seconds.toFixed(3)]),
  );
}

/** Per (target, source): every method's score beside the true gains. */
export function scoresCsv(results: StudyResults): string {
  const scored = METHODS.filter((m) => m !== 'random');
  const rows = results.scores.flatMap((entry) => {
    const truth = (mask: StudyMask) => results.truths.find((t) => t.target === entry.target && t.mask === mask)!;
    return results.sources.map((source, i) => [entry.target, source.id, ...MASKS.flatMap((mask) => [truth(mask).accuracies[i], truth(mask).gains[i]]), ...scored.map((m) => entry.scores[m]![i])]);
  });
  return toCsv(['target', 'source', 'accuracy', 'gain', 'accuracy_gmt', 'gain_gmt', ...scored], rows);
}

export function metricsCsv(results: StudyResults): string {
  const rows = results.metrics.flatMap((m) => [
    [m.method, m.mask, 'mean', m.regret1, m.regret3, m.spearman],
    ...m.perTarget.map((t) => [m.method, m.mask, t.target, t.regret1, t.regret3, t.spearman]),
  ]);
  return toCsv(['method', 'mask', 'target', 'regret_at_1', 'regret_at_3', 'spearman'], rows);
}

/** Predicted score (standardised within each target, so targets share an axis) against the true gain, one panel per scoring method. */
export function scorePlot(results: StudyResults): string {
  const methods: MethodName[] = ['esm-logme', 'finetuned-logme', 'textemb'];
  const targets = results.scores.map((s) => s.target);
  const panels = methods.map((method) => ({
    title: `${method === 'finetuned-logme' ? 'LogME, fine-tuned models' : METHOD_LABELS[method].replace(/ \(.*/, '')} (ρ ${fixed(metricsOf(results, method, 'none').spearman)})`,
    points: results.scores.flatMap((entry, series) => {
      const scores = entry.scores[method]!;
      const m = mean(scores);
      const sd = Math.sqrt(mean(scores.map((s) => (s - m) ** 2))) || 1;
      const truth = results.truths.find((t) => t.target === entry.target && t.mask === 'none')!;
      return scores.map((s, i) => ({ x: (s - m) / sd, y: 100 * truth.gains[i], series }));
    }),
  }));
  return scatterSvg(panels, {
    title: 'Predicted score vs real gain of each source (vanilla fine-tuning; one colour per target)',
    xLabel: 'score, standardised within the target',
    yLabel: 'gain over target only (accuracy points)',
    series: targets.map((t) => t.replace('study/', '')),
    zeroLine: true,
  });
}

/** "mean m (a to b)" of some values. */
function range(values: readonly number[], digits: number, unit = ''): string {
  const f = (x: number) => `${fixed(x, digits)}${unit}`;
  return `mean ${f(mean(values))} (${f(Math.min(...values))} to ${f(Math.max(...values))})`;
}

function minutes(totalSeconds: number): string {
  return `${(totalSeconds / 60).toFixed(1)} min`;
}

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
  if (noise.repeatSd === null) return `- ${name}: one repeat per pair, so the seed noise is not measured; true gains spread by ${percent(noise.gainSpread)} points (SD across sources, mean over targets).`;
  // A gain is the difference of two independent means: √2 times the noise of one.
  return `- ${name}: a single fine-tune's test accuracy varies with its seed by ${percent(noise.repeatSd)} points (pooled SD over repeats), so a ${results.config.repeats}-repeat mean carries about ${percent(noise.meanSd!)} points and a gain about ${percent(noise.meanSd! * Math.SQRT2)}; the true gains spread across sources by ${percent(noise.gainSpread)} points (SD, mean over targets).`;
}

/** The README section: how the study is built and what it measured, all from results.json. */
export function readmeSection(results: StudyResults): string {
  const { config } = results;
  const f = config.family;
  const totalPairs = results.pairs.length;
  const gmt = results.truths.filter((t) => t.mask === 'gmt');
  const vanilla = results.truths.filter((t) => t.mask === 'none');
  const meanGain = (truths: readonly TargetTruth[]) => mean(truths.flatMap((t) => t.gains));
  const lines = [
    '## Does ESM-LogME pick intermediate tasks that help? A miniature transfer study',
    '',
    '*This section is written by `npm run study` (src/study/) from study/results.json; do not edit it by hand.*',
    '',
    `The paper's evidence is that ESM-LogME picks intermediate tasks that really help. \`npm run study\` runs that experiment in miniature with this project's own pipeline, deterministically from seed ${f.seed}, in a temporary data dir:`,
    '',
    `1. **Tasks** (src/study/tasks.ts, listed in study/tasks.md): ${f.groups} keyword groups of ${f.groupSize} words (the latent topics) and ${f.domains} domains of ${f.domainSize} words (neighbouring domains share ${f.domainSize - f.domainStep}) are dealt from words of tiny-bert's vocabulary. A text has ${f.textLength[0]}–${f.textLength[1]} words: one or two keywords of its class's group(s), with probability ${f.distractorProbability} a keyword of a group its task does not use, the rest words of the task's domain or function words. ${f.sources} sources have ${f.sourceClasses[0]}–${f.sourceClasses[1]} classes (with probability ${f.mergeProbability} a class merges two groups) and ${f.sourceExamples} examples; ${f.targets} targets have ${f.targetClasses} single-group classes and ${f.targetTrain} training, ${f.targetValidation} validation and ${f.targetTest} test examples. A source helps a target when it teaches the target's groups apart, and may hurt when it merges them or makes a target's distractor salient.`,
    `2. **Sources**: \`runFinetune\` fine-tunes ${config.model} on each source (intermediate stage: ${JSON.stringify(config.intermediate)}), trains the ESM of the fine-tune from base and fine-tuned embeddings of the source texts and registers it in the run's registry (study/sources.md).`,
    `3. **Selection** per target, over the same ${f.sources} sources: ESM-LogME (\`rank\` with the registry pool, ${results.environment.scorer}), random (exact expectation over rankings), TextEmb (cosine of the mean base embeddings of source and target texts), LogME on the base embeddings without ESMs, and the expensive upper reference, LogME on the target embedded by each actually fine-tuned source model. LogME on base embeddings is ESM-LogME with the identity map for every source: one score for all sources, so its regret is random's (ties are broken uniformly at random, in expectation) and its ρ is undefined; it is the baseline that shows what the ESMs add.`,
    `4. **Ground truth**: every target fine-tuned from every source's intermediate checkpoint and from the base model (target only), vanilla and with GMT in the target stage (${JSON.stringify(config.targetStage)}, best epoch by validation accuracy), ${config.repeats} seed${config.repeats > 1 ? 's' : ''} each: ${totalPairs} target fine-tunes. Outcome: test accuracy averaged over the seeds; gain = accuracy(source → target) − accuracy(target only).`,
    '',
    `Regret@k = 100 · (best source's accuracy − best accuracy among the method's top k) / best source's accuracy (Poth et al., 2021; Schulte et al., 2024), averaged over the ${f.targets} targets; ρ is Spearman's correlation of the method's scores with the true gains per target, averaged. "Once per pool" is what the method spends on the source pool before any target (the source fine-tunes themselves, ${seconds(results.sources.reduce((s, x) => s + x.seconds.intermediate, 0))} s in all, are needed by ESM-LogME and the upper reference alike and are not counted), "disk" what it keeps, "per target" its time for one target (the target's base embedding counted for every method that needs it).`,
    '',
    methodTable(results),
    '',
    verdict(results, 'none'),
    verdict(results, 'gmt'),
    '',
    targetTable(results),
    '',
    `Mean gain over all pairs: ${points(meanGain(vanilla))} points vanilla, ${points(meanGain(gmt))} with GMT. What the methods see:`,
    '',
    `- The fine-tunes learned their sources, held-out accuracy ${range(results.sources.map((s) => 100 * s.sourceAccuracy), 1, ' %')}; the ESMs fit the fine-tuned embeddings poorly: held-out R² ${range(results.sources.flatMap((s) => (s.esmHeldOutR2 === null ? [] : [s.esmHeldOutR2])), 3)} over the ${results.sources.length} ESMs (study/sources.md).`,
    `- TextEmb's cosines: ${range(results.scores.flatMap((s) => s.scores.textemb ?? []), 4)}; the random base model gives every task nearly the same mean embedding.`,
    '',
    'Noise of the ground truth:',
    '',
    noiseLine(results, 'none'),
    noiseLine(results, 'gmt'),
    `- The target stage of each source's runner job (on the first target) and the study's own fine-tune of the same pair from the job's intermediate checkpoint differ by at most ${fixed(100 * results.reproduction.maxDifference, 2)} accuracy points over the ${results.reproduction.pairs} pairs.`,
    '',
    '![Predicted score vs real gain](study/plot.svg)',
    '',
    `Measured on ${results.environment.cpus} cores (Node ${results.environment.node}, ${results.environment.tensorflow}; load average ${results.environment.loadAverage.map((l) => l.toFixed(1)).join(' at the start, ')} at the end${Math.max(...results.environment.loadAverage) > results.environment.cpus ? ', so other work shared the cores' : ''}): the whole \`npm run study\` took **${minutes(results.seconds.total)}** wall time (sources ${minutes(results.seconds.sources)}, selection ${minutes(results.seconds.methods)}, ground truth ${minutes(results.seconds.groundTruth)}) and ${minutes(results.seconds.cpu)} of CPU time. Artefacts in study/: results.json (everything), table.md, tasks.md, sources.md, pairs.csv (every fine-tune), scores.csv (scores beside gains), metrics.csv (per target), plot.svg, study.log. \`npm run study -- --smoke\` runs the same pipeline on 3 sources and 2 targets in well under a minute (a test does).`,
  ];
  return lines.join('\n');
}

export const README_BEGIN = '<!-- study:begin -->';
export const README_END = '<!-- study:end -->';

/** The README with the study section replaced (or appended, the first time). */
export function replaceReadmeSection(readme: string, section: string): string {
  const block = `${README_BEGIN}\n${section}\n${README_END}`;
  const begin = readme.indexOf(README_BEGIN);
  const end = readme.indexOf(README_END);
  if (begin === -1 || end === -1 || end < begin) return `${readme.replace(/\n*$/, '\n\n')}${block}\n`;
  return `${readme.slice(0, begin)}${block}${readme.slice(end + README_END.length)}`;
}

export function groupsTable(family: TaskFamily): string {
  const header = ['| group | keywords |', '|---|---|'];
  const groups = family.groups.map((words, g) => `| ${groupName(g)} | ${words.join(' ')} |`);
  const domains = ['', '| domain | words |', '|---|---|', ...family.domainWords.map((words, d) => `| ${d} | ${words.join(' ')} |`)];
  return [...header, ...groups, ...domains].join('\n');
}
