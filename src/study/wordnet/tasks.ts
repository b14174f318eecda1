import type { LabelledTexts } from '../../finetune/data.js';
import { seededUniform, shuffleInPlace } from '../../random.js';
import { streamSeed, type StudyFamily, type StudyTask } from '../tasks.js';
import type { Synset } from './corpus.js';

/**
 * Source and target tasks over the WordNet corpus: which lexicographer file (noun.animal,
 * verb.motion, …) a text belongs to, among a few files of one part of speech. A target's texts are
 * definitions; a source's are definitions or usage examples. Each source is built from one target
 * by one relation, so how much a source can teach a target is known by construction:
 * - `share`: the target's classes exactly (other synsets; sometimes usage examples instead of definitions);
 * - `split`: a class the target merges (animal-or-plant) as two classes;
 * - `merge`: two of the target's classes as one (and another file, if one class would be left);
 * - `miss`: one of the target's classes replaced by a file the target does not use;
 * - `unrelated`: files the target does not use, of the other part of speech.
 * Targets and sources never share a synset. Everything is drawn from `seed`.
 */
export const RELATIONS = ['share', 'split', 'merge', 'miss', 'unrelated'] as const;
export type Relation = (typeof RELATIONS)[number];

/** What a task's texts are: StudyTask's `domain` is the index here. */
export const TEXT_KINDS = ['definition', 'example'] as const;
export type TextKind = (typeof TEXT_KINDS)[number];

/**
 * Pairs of files a person would group under one name; a target's merged class is one of them
 * (the animal-or-plant glosses are those of living things), while a source's `merge` may join any two.
 */
export const NATURAL_GROUPS: readonly (readonly [string, string])[] = [
  ['noun.animal', 'noun.plant'],
  ['noun.artifact', 'noun.object'],
  ['noun.food', 'noun.substance'],
  ['noun.act', 'noun.event'],
  ['noun.cognition', 'noun.communication'],
  ['noun.feeling', 'noun.state'],
  ['noun.quantity', 'noun.time'],
  ['noun.group', 'noun.person'],
  ['verb.contact', 'verb.motion'],
  ['verb.cognition', 'verb.perception'],
  ['verb.communication', 'verb.social'],
  ['verb.change', 'verb.creation'],
  ['verb.body', 'verb.consumption'],
];

export interface WordNetFamilyOptions {
  readonly seed: number;
  readonly targets: number;
  readonly sources: number;
  /** Classes of a target, drawn uniformly in this range. */
  readonly targetClasses: readonly [number, number];
  /** Chance that one of a target's classes is a natural group of two files (which gives `split` sources something to split). */
  readonly coarseTargetProbability: number;
  /** Chance that a source whose files have enough usage examples is written in them rather than in definitions. */
  readonly exampleProbability: number;
  readonly sourceExamples: number;
  readonly targetTrain: number;
  readonly targetValidation: number;
  readonly targetTest: number;
  /** Files with fewer synsets (of nouns and verbs) take no part. */
  readonly minSynsets: number;
}

export const WORDNET_FAMILY_DEFAULTS: WordNetFamilyOptions = {
  seed: 20240917,
  targets: 8,
  sources: 16,
  targetClasses: [2, 3],
  coarseTargetProbability: 0.3,
  exampleProbability: 0.25,
  sourceExamples: 1000,
  targetTrain: 200,
  targetValidation: 100,
  targetTest: 400,
  minSynsets: 400,
};

export interface WordNetTask extends StudyTask {
  /** Human-readable: `animal-vs-plant`, `animal-or-plant-vs-food`, `motion-vs-contact-verbs`, `…-usage` (usage examples). */
  readonly name: string;
  /** The part of speech of its files. */
  readonly pos: 'noun' | 'verb';
  readonly textKind: TextKind;
  /** The files of each class, in label order; a class's label is its files joined by `+`. */
  readonly classNames: readonly (readonly string[])[];
  /** Sources: the target it was built from and how. */
  readonly relation?: { readonly target: string; readonly kind: Relation };
}

export interface WordNetFamily extends StudyFamily {
  readonly options: WordNetFamilyOptions;
  /** The files that take part; StudyTask's `classes` index into it. */
  readonly lexnames: readonly string[];
  readonly sources: readonly WordNetTask[];
  readonly targets: readonly WordNetTask[];
}

/** `noun.animal` → `animal`; a merged class → `animal-or-plant`; classes → `animal-vs-plant`, verbs suffixed `-verbs`. */
export function taskName(classNames: readonly (readonly string[])[], textKind: TextKind): string {
  const pos = classNames[0][0].split('.')[0];
  const classes = classNames.map((files) => files.map((f) => f.split('.')[1]).join('-or-')).join('-vs-');
  return `${classes}${pos === 'verb' ? '-verbs' : ''}${textKind === 'example' ? '-usage' : ''}`;
}

export const classLabel = (files: readonly string[]) => files.join('+');

const pick = <T>(uniform: () => number, items: readonly T[]): T => items[Math.floor(uniform() * items.length)];

/** Synsets of each file not yet taken by a target, in a seeded order; targets take theirs for good. */
class SynsetPool {
  private readonly free = new Map<string, number[]>();

  constructor(
    readonly corpus: readonly Synset[],
    lexnames: readonly string[],
    seed: number,
  ) {
    lexnames.forEach((lexname, i) => {
      const rows = corpus.flatMap((s, row) => (s.lexname === lexname ? [row] : []));
      this.free.set(lexname, shuffleInPlace(rows, seededUniform(streamSeed(seed, 10, i))));
    });
  }

  available(lexname: string, kind: TextKind): number {
    const rows = this.free.get(lexname) ?? [];
    return kind === 'definition' ? rows.length : rows.filter((r) => this.corpus[r].examples.length > 0).length;
  }

  /** Removes `count` synsets of the file for a target (the first in the pool's order). */
  take(lexname: string, count: number): number[] {
    const rows = this.free.get(lexname)!;
    if (rows.length < count) throw new RangeError(`${lexname} has ${rows.length} synsets left, ${count} wanted`);
    return rows.splice(0, count);
  }

  /** `count` synsets of the file with a text of `kind`, in a seeded order, left in the pool (sources may overlap). */
  sample(lexname: string, kind: TextKind, count: number, uniform: () => number): number[] {
    const rows = (this.free.get(lexname) ?? []).filter((r) => kind === 'definition' || this.corpus[r].examples.length > 0);
    return shuffleInPlace(rows.slice(), uniform).slice(0, count);
  }
}

/**
 * Labelled texts from synset rows per class, interleaved class by class so any prefix is balanced
 * (as the synthetic family's splits are). A synset gives its definition, or one of its usage examples.
 */
function labelled(corpus: readonly Synset[], classNames: readonly (readonly string[])[], rowsPerClass: readonly number[][], kind: TextKind, uniform: () => number): LabelledTexts {
  const texts: string[] = [];
  const labels: string[] = [];
  const longest = Math.max(...rowsPerClass.map((r) => r.length));
  for (let i = 0; i < longest; i++) {
    rowsPerClass.forEach((rows, c) => {
      if (i >= rows.length) return;
      const synset = corpus[rows[i]];
      texts.push(kind === 'definition' ? synset.definition : pick(uniform, synset.examples));
      labels.push(classLabel(classNames[c]));
    });
  }
  return { texts, labels };
}

/** Splits `count` over the files of a class: a merged class takes from each file in turn. */
const shares = (count: number, files: number) => Array.from({ length: files }, (_, f) => Math.floor(count / files) + (f < count % files ? 1 : 0));

/**
 * The WordNet task family: targets first (their synsets set aside), then each source from a target
 * and a relation. Source s is built from target s mod T by relation s mod 5 (share, split, merge,
 * miss, unrelated), or the next relation that applies (split needs a merged class) and gives a
 * task not built already.
 */
export function generateWordNetFamily(corpus: readonly Synset[], overrides: Partial<WordNetFamilyOptions> = {}): WordNetFamily {
  const options: WordNetFamilyOptions = { ...WORDNET_FAMILY_DEFAULTS, ...overrides };
  const { seed } = options;
  const sizes = new Map<string, number>();
  for (const s of corpus) if (s.pos === 'noun' || s.pos === 'verb') sizes.set(s.lexname, (sizes.get(s.lexname) ?? 0) + 1);
  const lexnames = [...sizes].filter(([name, n]) => n >= options.minSynsets && name !== 'noun.Tops').map(([name]) => name).sort();
  const byPos = { noun: lexnames.filter((l) => l.startsWith('noun.')), verb: lexnames.filter((l) => l.startsWith('verb.')) };
  if (byPos.noun.length < 4 || byPos.verb.length < 4) throw new RangeError(`the corpus gives ${byPos.noun.length} noun and ${byPos.verb.length} verb files with ${options.minSynsets} synsets; 4 of each are needed`);
  const pool = new SynsetPool(corpus, lexnames, seed);
  const index = (files: readonly string[]) => files.map((f) => lexnames.indexOf(f));
  const targetSize = options.targetTrain + options.targetValidation + options.targetTest;

  const targets: WordNetTask[] = [];
  for (let t = 0; targets.length < options.targets; t++) {
    if (t > 50 * options.targets) throw new RangeError(`only ${targets.length} of ${options.targets} targets fit in the corpus`);
    const uniform = seededUniform(streamSeed(seed, 1, t));
    const pos = uniform() < 0.5 ? 'noun' : 'verb';
    const [low, high] = options.targetClasses;
    const k = low + Math.floor(uniform() * (high - low + 1));
    const groups = NATURAL_GROUPS.filter((g) => g.every((f) => byPos[pos].includes(f)));
    const group = uniform() < options.coarseTargetProbability && groups.length > 0 ? pick(uniform, groups) : undefined;
    const singles = shuffleInPlace(byPos[pos].filter((f) => !group?.includes(f)), uniform).slice(0, group ? k - 1 : k);
    const classNames = shuffleInPlace([...(group ? [[...group]] : []), ...singles.map((f) => [f])], uniform);
    const name = taskName(classNames, 'definition');
    // Per class: its share of each split, taken from its files in turn.
    const splitSizes = [options.targetTrain, options.targetValidation, options.targetTest].map((n) => shares(n, k));
    const perClass = classNames.map((_, c) => splitSizes.reduce((n, sizes) => n + sizes[c], 0));
    const needs = classNames.flatMap((files, c) => files.map((f, i) => [f, shares(perClass[c], files.length)[i]] as const));
    if (targets.some((x) => x.name === name) || needs.some(([f, n]) => pool.available(f, 'definition') < n)) continue;
    // Each class's rows in a seeded order (a merged class's files mixed), then cut into the splits.
    const rows = classNames.map((files, c) => shuffleInPlace(files.flatMap((f, i) => pool.take(f, shares(perClass[c], files.length)[i])), uniform));
    const split = (which: number) => {
      const before = (c: number) => splitSizes.slice(0, which).reduce((n, sizes) => n + sizes[c], 0);
      return labelled(corpus, classNames, rows.map((r, c) => r.slice(before(c), before(c) + splitSizes[which][c])), 'definition', uniform);
    };
    targets.push({
      id: `wordnet-target/${name}`,
      name,
      role: 'target',
      pos,
      textKind: 'definition',
      domain: TEXT_KINDS.indexOf('definition'),
      classNames,
      classes: classNames.map(index),
      train: split(0),
      validation: split(1),
      test: split(2),
    });
  }

  const sources: WordNetTask[] = [];
  for (let s = 0; sources.length < options.sources; s++) {
    if (s > 50 * options.sources) throw new RangeError(`only ${sources.length} of ${options.sources} distinct sources could be built`);
    const target = targets[s % targets.length];
    const uniform = seededUniform(streamSeed(seed, 2, s));
    let built: { kind: Relation; classNames: string[][]; pos: 'noun' | 'verb' } | undefined;
    for (let r = 0; r < RELATIONS.length && !built; r++) {
      const kind = RELATIONS[(s + r) % RELATIONS.length];
      const classNames = relate(kind, target, byPos, uniform);
      if (!classNames) continue;
      const pos = classNames[0][0].startsWith('verb.') ? 'verb' : 'noun';
      const taken = (textKind: TextKind) => sources.some((x) => x.name === taskName(classNames, textKind));
      if (!taken('definition') || !taken('example')) built = { kind, classNames, pos };
    }
    if (!built) continue;
    const perClass = Math.floor(options.sourceExamples / built.classNames.length);
    const enough = (kind: TextKind) => built.classNames.every((c) => c.every((f, i) => pool.available(f, kind) >= shares(perClass, c.length)[i]));
    const preferExamples = uniform() < options.exampleProbability;
    const name = (kind: TextKind) => taskName(built.classNames, kind);
    const free = (kind: TextKind) => enough(kind) && !sources.some((x) => x.name === name(kind));
    const textKind: TextKind | undefined = preferExamples && free('example') ? 'example' : free('definition') ? 'definition' : free('example') ? 'example' : undefined;
    if (!textKind) continue;
    const rows = built.classNames.map((c) => shuffleInPlace(c.flatMap((f, i) => pool.sample(f, textKind, shares(perClass, c.length)[i], uniform)), uniform));
    sources.push({
      id: `wordnet/${name(textKind)}`,
      name: name(textKind),
      role: 'source',
      pos: built.pos,
      textKind,
      domain: TEXT_KINDS.indexOf(textKind),
      classNames: built.classNames,
      classes: built.classNames.map(index),
      train: labelled(corpus, built.classNames, rows, textKind, uniform),
      relation: { target: target.id, kind: built.kind },
    });
  }
  return { options, lexnames, sources, targets };
}

/** A source's classes from a target's by `kind`, or undefined when the relation does not apply. */
function relate(kind: Relation, target: WordNetTask, byPos: { noun: string[]; verb: string[] }, uniform: () => number): string[][] | undefined {
  const classes = target.classNames.map((c) => [...c]);
  const used = new Set(classes.flat());
  const unused = shuffleInPlace(byPos[target.pos].filter((f) => !used.has(f)), uniform);
  if (unused.length === 0 && (kind === 'merge' || kind === 'miss')) return undefined;
  switch (kind) {
    case 'share':
      return classes;
    case 'split': {
      const merged = classes.findIndex((c) => c.length > 1);
      if (merged < 0) return undefined;
      return [...classes.slice(0, merged), ...classes[merged].map((f) => [f]), ...classes.slice(merged + 1)];
    }
    case 'merge': {
      const [a, b] = shuffleInPlace(classes.map((_, i) => i), uniform);
      const rest = classes.filter((_, i) => i !== a && i !== b);
      const joined = [...classes[a], ...classes[b]].sort();
      return rest.length > 0 ? [joined, ...rest] : [joined, [unused[0]]];
    }
    case 'miss': {
      const dropped = Math.floor(uniform() * classes.length);
      return classes.map((c, i) => (i === dropped ? [unused[0]] : c));
    }
    case 'unrelated': {
      const other = target.pos === 'noun' ? byPos.verb : byPos.noun;
      const k = 2 + Math.floor(uniform() * 2);
      return shuffleInPlace(other.slice(), uniform).slice(0, k).map((f) => [f]);
    }
  }
}
