import type { MethodMetrics, NoiseSummary, TargetTruth } from './analysis.js';
import type { StudyConfig } from './config.js';
import { MASKS, type PairRun, type StudyMask } from './ground-truth.js';
import { METHOD_LABELS, METHODS, type MethodName, type PoolCost, type TargetScores } from './methods.js';
import { mean } from './metrics.js';
import { scatterSvg } from './plot.js';
import { classLabel, generateFamily, groupName, type TaskFamily } from './tasks.js';
import { PAIR_RELATIONS, type PairRelation, pairRelation } from './wordnet/relations.js';
import { classLabel as filesLabel, type Relation, TEXT_KINDS, type TextKind, type WordNetFamily } from './wordnet/tasks.js';

/** Everything a run measured; results.json holds it and every table is written from it. */
export interface StudyResults {
  /** 2 since the WordNet run; a version 1 file (the synthetic study before it) is read as a version 2 with `tasks: 'synthetic'`. */
  readonly version: 2;
  readonly smoke: boolean;
  readonly config: StudyConfig;
  readonly environment: {
    readonly node: string;
    readonly cpus: number;
    /** Processes the ground truth's fine-tunes ran in. */
    readonly processes: number;
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
  /** Wall seconds of each phase and of the whole run, and the CPU seconds (user + system) the run's processes used. */
  readonly seconds: { readonly sources: number; readonly methods: number; readonly groundTruth: number; readonly total: number; readonly cpu: number };
}

export interface TaskSummary {
  readonly id: string;
  readonly role: 'source' | 'target';
  /** The synthetic task's domain; a WordNet task's kind of text (index into TEXT_KINDS). */
  readonly domain: number;
  /** Synthetic: keyword groups (`g07`, `g01+g00`); WordNet: lexicographer files (`noun.animal+noun.plant`). */
  readonly classes: readonly string[];
  readonly examples: { readonly train: number; readonly validation: number | null; readonly test: number | null };
  readonly example: string;
  /** WordNet sources: the target it was built from, and how. */
  readonly relation?: { readonly target: string; readonly kind: Relation };
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

const isWordNet = (family: TaskFamily | WordNetFamily): family is WordNetFamily => 'lexnames' in family;

export function summariseTasks(family: TaskFamily | WordNetFamily): TaskSummary[] {
  const common = (t: TaskFamily['sources'][number]) => ({
    id: t.id,
    role: t.role,
    domain: t.domain,
    examples: { train: t.train.texts.length, validation: t.validation?.texts.length ?? null, test: t.test?.texts.length ?? null },
    example: `${t.train.texts[0]} → ${String(t.train.labels[0])}`,
  });
  if (isWordNet(family))
    return [...family.sources, ...family.targets].map((t) => ({
      ...common(t),
      classes: t.classNames.map(filesLabel),
      ...(t.relation && { relation: t.relation }),
    }));
  return [...family.sources, ...family.targets].map((t) => ({ ...common(t), classes: t.classes.map(classLabel) }));
}

/** A results.json as read back: version 1 (the synthetic study before the WordNet run) brought up to version 2. */
export function upgradeResults(parsed: unknown): StudyResults {
  const results = parsed as { version: number; config: Record<string, unknown>; environment: Record<string, unknown> };
  if (results.version === 2) return parsed as StudyResults;
  if (results.version !== 1) throw new Error(`version ${String(results.version)}`);
  return {
    ...results,
    version: 2,
    config: { tasks: 'synthetic', ...results.config },
    environment: { processes: 1, ...results.environment },
  } as unknown as StudyResults;
}

/** A task's id without its family's prefix: `source-03`, `animal-vs-plant`. */
export function shortId(id: string): string {
  return id.replace(/^(study|wordnet|wordnet-target)\//, '');
}

const textKind = (task: TaskSummary): TextKind => TEXT_KINDS[task.domain];

export const percent = (x: number) => (100 * x).toFixed(1);
export const points = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(100 * x).toFixed(1)}`;
export const fixed = (x: number | null, digits = 2) => (x === null ? 'undefined' : x.toFixed(digits).replace(/^-/, '−'));
export const seconds = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(0));
export const kib = (bytes: number) => (bytes === 0 ? '0' : `${(bytes / 1024).toFixed(1)} KiB`);

export function metricsOf(results: StudyResults, method: MethodName, mask: StudyMask): MethodMetrics {
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
  const sourceIds = results.sources.map((s) => shortId(s.id));
  // A WordNet target's name lists its classes already.
  const synthetic = results.config.tasks === 'synthetic';
  const header = [
    `| target |${synthetic ? ' classes (domain) |' : ''} target only | best source: gain | sources with gain > 0 | ESM-LogME top 1: gain | upper reference top 1: gain | TextEmb top 1: gain | regret@3 (%): ESM-LogME, random, upper reference | ρ: ESM-LogME, upper reference |`,
    `|---|${synthetic ? '---|' : ''}---|---|---|---|---|---|---|---|`,
  ];
  const pick = (scores: readonly number[] | null, gains: readonly number[]) => {
    if (!scores) return '—';
    const i = argmax(scores);
    return `${sourceIds[i]}: ${points(gains[i])}`;
  };
  const rows = results.truths
    .filter((t) => t.mask === 'none')
    .map((truth) => {
      const task = results.tasks.find((t) => t.id === truth.target)!;
      const scores = results.scores.find((s) => s.target === truth.target)!.scores;
      const best = argmax(truth.gains);
      const helping = truth.gains.filter((g) => g > 0).length;
      const of = (method: MethodName) => metricsOf(results, method, 'none').perTarget.find((t) => t.target === truth.target)!;
      const classes = synthetic ? ` ${task.classes.join(', ')} (${task.domain}) |` : '';
      return `| ${shortId(truth.target)} |${classes} ${percent(truth.baseline)} % | ${sourceIds[best]}: ${points(truth.gains[best])} | ${helping} of ${truth.gains.length} | ${pick(scores['esm-logme'], truth.gains)} | ${pick(scores['finetuned-logme'], truth.gains)} | ${pick(scores.textemb, truth.gains)} | ${fixed(of('esm-logme').regret3)}, ${fixed(of('random').regret3)}, ${fixed(of('finetuned-logme').regret3)} | ${fixed(of('esm-logme').spearman)}, ${fixed(of('finetuned-logme').spearman)} |`;
    });
  return [...header, ...rows].join('\n');
}

export function taskTable(results: StudyResults): string {
  const splits = (t: TaskSummary) => `${t.examples.train} | ${t.examples.validation ?? '—'} | ${t.examples.test ?? '—'}`;
  if (results.config.tasks === 'synthetic') {
    const header = ['| task | domain | classes (keyword groups) | train | validation | test | example |', '|---|---|---|---|---|---|---|'];
    return [...header, ...results.tasks.map((t) => `| ${t.id} | ${t.domain} | ${t.classes.join(', ')} | ${splits(t)} | ${t.example} |`)].join('\n');
  }
  const header = ['| task | texts | classes (lexicographer files) | built from | train | validation | test | example |', '|---|---|---|---|---|---|---|---|'];
  const built = (t: TaskSummary) => (t.relation ? `${t.relation.kind} of ${shortId(t.relation.target)}` : '—');
  const rows = results.tasks.map(
    (t) =>
      `| ${t.id} | ${textKind(t) === 'example' ? 'usage examples' : 'definitions'} | ${t.classes.join(', ')} | ${built(t)} | ${splits(t)} | ${t.example.replace(/\|/g, '\\|')} |`,
  );
  return [...header, ...rows].join('\n');
}

export function sourceTable(results: StudyResults): string {
  const header = ['| source | held-out accuracy | ESM held-out R² | fine-tune | ESM step | ESM | model |', '|---|---|---|---|---|---|---|'];
  const rows = results.sources.map(
    (s) =>
      `| ${s.id} | ${percent(s.sourceAccuracy)} % | ${s.esmHeldOutR2 === null ? '—' : s.esmHeldOutR2.toFixed(3)} | ${seconds(s.seconds.intermediate)} s | ${seconds(s.seconds.esm)} s | ${kib(s.esmBytes)} | ${kib(s.modelBytes)} |`,
  );
  return [...header, ...rows].join('\n');
}

/** Rank of each source by the scores (1: the highest), ties sharing their mean rank. */
export function ranksOf(scores: readonly number[]): number[] {
  return scores.map((s) => 1 + scores.filter((x) => x > s).length + (scores.filter((x) => x === s).length - 1) / 2);
}

/** How a WordNet source's classes stand to a target's (relations.ts), for every (source, target) pair. */
export function pairRelations(results: StudyResults): { target: string; relations: PairRelation[] }[] {
  const classes = (id: string) => results.tasks.find((t) => t.id === id)!.classes;
  return results.truths
    .filter((t) => t.mask === 'none')
    .map((truth) => ({ target: truth.target, relations: results.sources.map((s) => pairRelation(classes(s.id), classes(truth.target))) }));
}

/**
 * WordNet runs: per relation of source to target, the pairs, their mean true gain (vanilla and GMT),
 * how often the source helps, and the mean rank each scoring method gives such sources (1: top).
 */
export function relationTable(results: StudyResults): string {
  const relations = pairRelations(results);
  const methods: MethodName[] = ['esm-logme', 'finetuned-logme', 'textemb'];
  const n = results.sources.length;
  const header = [
    `| source's classes against the target's | pairs | mean gain | mean gain, GMT | gain > 0 | mean rank of ${n}: ESM-LogME | upper reference | TextEmb |`,
    '|---|---|---|---|---|---|---|---|',
  ];
  const rows = PAIR_RELATIONS.flatMap((relation) => {
    const cells = relations.flatMap(({ target, relations: rs }) => rs.flatMap((r, i) => (r === relation ? [{ target, i }] : [])));
    if (cells.length === 0) return [];
    const gain = (mask: StudyMask) => mean(cells.map(({ target, i }) => results.truths.find((t) => t.target === target && t.mask === mask)!.gains[i]));
    const helped = cells.filter(({ target, i }) => results.truths.find((t) => t.target === target && t.mask === 'none')!.gains[i] > 0).length;
    const rank = (method: MethodName) =>
      mean(cells.map(({ target, i }) => ranksOf(results.scores.find((s) => s.target === target)!.scores[method]!)[i])).toFixed(1);
    return [
      `| ${RELATION_WORDS[relation]} | ${cells.length} | ${points(gain('none'))} | ${points(gain('gmt'))} | ${helped} of ${cells.length} | ${methods.map(rank).join(' | ')} |`,
    ];
  });
  return [...header, ...rows].join('\n');
}

export const RELATION_WORDS: Record<PairRelation, string> = {
  share: 'share: the same classes',
  split: 'split: finer (tells apart what the target merges)',
  merge: 'merge: coarser (merges what the target tells apart)',
  miss: "miss: one of the target's classes replaced",
  overlap: 'overlap: some files in common otherwise',
  disjoint: 'disjoint: no file in common',
};

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
    results.pairs.map((p) => [
      p.source ?? '(target only)',
      p.target,
      p.mask,
      p.repeat,
      p.seed,
      p.testAccuracy,
      p.validationAccuracy,
      p.bestEpoch,
      p.seconds.toFixed(3),
    ]),
  );
}

/** Per (target, source): every method's score beside the true gains. */
export function scoresCsv(results: StudyResults): string {
  const scored = METHODS.filter((m) => m !== 'random');
  const rows = results.scores.flatMap((entry) => {
    const truth = (mask: StudyMask) => results.truths.find((t) => t.target === entry.target && t.mask === mask)!;
    return results.sources.map((source, i) => [
      entry.target,
      source.id,
      ...MASKS.flatMap((mask) => [truth(mask).accuracies[i], truth(mask).gains[i]]),
      ...scored.map((m) => entry.scores[m]![i]),
    ]);
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
    series: targets.map(shortId),
    zeroLine: true,
  });
}

/** tasks.md: the synthetic family's keyword groups and domains, then every task. */
export function tasksMarkdown(results: StudyResults): string {
  const groups = results.config.tasks === 'synthetic' ? `${groupsTable(generateFamily(results.config.family))}\n\n` : '';
  return `# The task family\n\n${groups}${taskTable(results)}\n`;
}

/** table.md: the method table, then the per-target one (and, for WordNet, the relation table). */
export function runTables(results: StudyResults): string {
  const relation = results.config.tasks === 'wordnet' ? `\n# By relation of source to target (vanilla ranks)\n\n${relationTable(results)}\n` : '';
  return `# Selection methods\n\n${methodTable(results)}\n\n# Per target (vanilla ground truth)\n\n${targetTable(results)}\n${relation}`;
}

export function groupsTable(family: TaskFamily): string {
  const header = ['| group | keywords |', '|---|---|'];
  const groups = family.groups.map((words, g) => `| ${groupName(g)} | ${words.join(' ')} |`);
  const domains = ['', '| domain | words |', '|---|---|', ...family.domainWords.map((words, d) => `| ${d} | ${words.join(' ')} |`)];
  return [...header, ...groups, ...domains].join('\n');
}
