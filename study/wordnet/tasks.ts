import type { LabelledTexts } from '../../src/finetune/data.js';
import { seededUniform, shuffleInPlace } from '../../src/random.js';
import { type StudyFamily, type StudyTask, streamSeed } from '../tasks.js';
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
  /**
   * Texts (definitions, usage examples) of more words are not used: a fine-tune's cost grows with
   * its texts' length, and a short gloss names its kind of thing as well as a long one. 0: no limit (the default).
   */
  readonly maxWords: number;
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
  maxWords: 0,
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
    private readonly maxWords: number,
  ) {
    lexnames.forEach((lexname, i) => {
      const rows = corpus.flatMap((s, row) => (s.lexname === lexname ? [row] : []));
      this.free.set(lexname, shuffleInPlace(rows, seededUniform(streamSeed(seed, 10, i))));
    });
  }

  /** A synset's texts of `kind` that are short enough (maxWords). */
  texts(row: number, kind: TextKind): readonly string[] {
    const synset = this.corpus[row];
    const all = kind === 'definition' ? [synset.definition] : synset.examples;
    return this.maxWords > 0 ? all.filter((text) => text.split(' ').length <= this.maxWords) : all;
  }

  private usable(lexname: string, kind: TextKind): number[] {
    return (this.free.get(lexname) ?? []).filter((r) => this.texts(r, kind).length > 0);
  }

  available(lexname: string, kind: TextKind): number {
    return this.usable(lexname, kind).length;
  }

  /** Removes `count` synsets of the file with a usable definition for a target (the first in the pool's order). */
  take(lexname: string, count: number): number[] {
    const taken = this.usable(lexname, 'definition').slice(0, count);
    if (taken.length < count) throw new RangeError(`${lexname} has ${taken.length} usable synsets left, ${count} wanted`);
    const gone = new Set(taken);
    this.free.set(
      lexname,
      this.free.get(lexname)!.filter((r) => !gone.has(r)),
    );
    return taken;
  }

  /** `count` synsets of the file with a text of `kind`, in a seeded order, left in the pool (sources may overlap). */
  sample(lexname: string, kind: TextKind, count: number, uniform: () => number): number[] {
    return shuffleInPlace(this.usable(lexname, kind), uniform).slice(0, count);
  }
}

/**
 * Labelled texts from synset rows per class, interleaved class by class so any prefix is balanced
 * (as the synthetic family's splits are). A synset gives its definition, or one of its usage examples.
 */
function labelled(
  pool: SynsetPool,
  classNames: readonly (readonly string[])[],
  rowsPerClass: readonly number[][],
  kind: TextKind,
  uniform: () => number,
): LabelledTexts {
  const texts: string[] = [];
  const labels: string[] = [];
  const longest = Math.max(...rowsPerClass.map((r) => r.length));
  for (let i = 0; i < longest; i++) {
    rowsPerClass.forEach((rows, c) => {
      if (i >= rows.length) return;
      const choices = pool.texts(rows[i], kind);
      texts.push(kind === 'definition' ? choices[0] : pick(uniform, choices));
      labels.push(classLabel(classNames[c]));
    });
  }
  return { texts, labels };
}

/** Splits `count` over the files of a class: a merged class takes from each file in turn. */
const shares = (count: number, files: number) => Array.from({ length: files }, (_, f) => Math.floor(count / files) + (f < count % files ? 1 : 0));

/** The files that take part (at least `minSynsets` synsets, noun.Tops aside), by part of speech. */
function lexicographerFiles(corpus: readonly Synset[], options: WordNetFamilyOptions): { lexnames: string[]; byPos: { noun: string[]; verb: string[] } } {
  const sizes = new Map<string, number>();
  for (const s of corpus) if (s.pos === 'noun' || s.pos === 'verb') sizes.set(s.lexname, (sizes.get(s.lexname) ?? 0) + 1);
  const lexnames = [...sizes]
    .filter(([name, n]) => n >= options.minSynsets && name !== 'noun.Tops')
    .map(([name]) => name)
    .sort();
  const byPos = { noun: lexnames.filter((l) => l.startsWith('noun.')), verb: lexnames.filter((l) => l.startsWith('verb.')) };
  if (byPos.noun.length < 4 || byPos.verb.length < 4)
    throw new RangeError(
      `the corpus gives ${byPos.noun.length} noun and ${byPos.verb.length} verb files with ${options.minSynsets} synsets; 4 of each are needed`,
    );
  return { lexnames, byPos };
}

const posOf = (classNames: readonly (readonly string[])[]): 'noun' | 'verb' => (classNames[0][0].startsWith('verb.') ? 'verb' : 'noun');

/** Draws tasks from one pool of synsets: targets take theirs for good, sources sample what the targets left. */
class TaskDrawer {
  constructor(
    readonly pool: SynsetPool,
    private readonly lexnames: readonly string[],
    private readonly options: WordNetFamilyOptions,
  ) {}

  private index(files: readonly string[]): number[] {
    return files.map((f) => this.lexnames.indexOf(f));
  }

  /** Per class: its share of each split (train, validation, test). */
  private targetSplits(classes: number): number[][] {
    return [this.options.targetTrain, this.options.targetValidation, this.options.targetTest].map((n) => shares(n, classes));
  }

  /** Whether the pool still has the definitions a target of these classes takes. */
  targetFits(classNames: readonly (readonly string[])[]): boolean {
    const splitSizes = this.targetSplits(classNames.length);
    const perClass = classNames.map((_, c) => splitSizes.reduce((n, sizes) => n + sizes[c], 0));
    return classNames.every((files, c) => files.every((f, i) => this.pool.available(f, 'definition') >= shares(perClass[c], files.length)[i]));
  }

  /** A target of definitions: its synsets taken from the pool for good, cut into the three splits. */
  target(classNames: string[][], uniform: () => number): WordNetTask {
    const name = taskName(classNames, 'definition');
    const splitSizes = this.targetSplits(classNames.length);
    const perClass = classNames.map((_, c) => splitSizes.reduce((n, sizes) => n + sizes[c], 0));
    // Each class's rows in a seeded order (a merged class's files mixed), then cut into the splits.
    const rows = classNames.map((files, c) =>
      shuffleInPlace(
        files.flatMap((f, i) => this.pool.take(f, shares(perClass[c], files.length)[i])),
        uniform,
      ),
    );
    const split = (which: number) => {
      const before = (c: number) => splitSizes.slice(0, which).reduce((n, sizes) => n + sizes[c], 0);
      return labelled(
        this.pool,
        classNames,
        rows.map((r, c) => r.slice(before(c), before(c) + splitSizes[which][c])),
        'definition',
        uniform,
      );
    };
    return {
      id: `wordnet-target/${name}`,
      name,
      role: 'target',
      pos: posOf(classNames),
      textKind: 'definition',
      domain: TEXT_KINDS.indexOf('definition'),
      classNames,
      classes: classNames.map((c) => this.index(c)),
      train: split(0),
      validation: split(1),
      test: split(2),
    };
  }

  /** Whether the pool has `sourceExamples` texts of `kind` over these classes. */
  sourceFits(classNames: readonly (readonly string[])[], kind: TextKind): boolean {
    const perClass = Math.floor(this.options.sourceExamples / classNames.length);
    return classNames.every((c) => c.every((f, i) => this.pool.available(f, kind) >= shares(perClass, c.length)[i]));
  }

  /** A source of `sourceExamples` texts of `kind`, sampled from the synsets no target took. */
  source(classNames: string[][], kind: TextKind, uniform: () => number, relation?: WordNetTask['relation']): WordNetTask {
    const perClass = Math.floor(this.options.sourceExamples / classNames.length);
    const rows = classNames.map((c) =>
      shuffleInPlace(
        c.flatMap((f, i) => this.pool.sample(f, kind, shares(perClass, c.length)[i], uniform)),
        uniform,
      ),
    );
    const name = taskName(classNames, kind);
    return {
      id: `wordnet/${name}`,
      name,
      role: 'source',
      pos: posOf(classNames),
      textKind: kind,
      domain: TEXT_KINDS.indexOf(kind),
      classNames,
      classes: classNames.map((c) => this.index(c)),
      train: labelled(this.pool, classNames, rows, kind, uniform),
      ...(relation && { relation }),
    };
  }
}

/**
 * The WordNet task family: targets first (their synsets set aside), then each source from a target
 * and a relation. Source s is built from target s mod T by relation s mod 5 (share, split, merge,
 * miss, unrelated), or the next relation that applies (split needs a merged class) and gives a
 * task not built already.
 */
export function generateWordNetFamily(corpus: readonly Synset[], overrides: Partial<WordNetFamilyOptions> = {}): WordNetFamily {
  const options: WordNetFamilyOptions = { ...WORDNET_FAMILY_DEFAULTS, ...overrides };
  const { seed } = options;
  const { lexnames, byPos } = lexicographerFiles(corpus, options);
  const drawer = new TaskDrawer(new SynsetPool(corpus, lexnames, seed, options.maxWords), lexnames, options);

  const targets: WordNetTask[] = [];
  for (let t = 0; targets.length < options.targets; t++) {
    if (t > 50 * options.targets) throw new RangeError(`only ${targets.length} of ${options.targets} targets fit in the corpus`);
    const uniform = seededUniform(streamSeed(seed, 1, t));
    const pos = uniform() < 0.5 ? 'noun' : 'verb';
    const [low, high] = options.targetClasses;
    const k = low + Math.floor(uniform() * (high - low + 1));
    const groups = NATURAL_GROUPS.filter((g) => g.every((f) => byPos[pos].includes(f)));
    const group = uniform() < options.coarseTargetProbability && groups.length > 0 ? pick(uniform, groups) : undefined;
    const singles = shuffleInPlace(
      byPos[pos].filter((f) => !group?.includes(f)),
      uniform,
    ).slice(0, group ? k - 1 : k);
    const classNames = shuffleInPlace([...(group ? [[...group]] : []), ...singles.map((f) => [f])], uniform);
    if (targets.some((x) => x.name === taskName(classNames, 'definition')) || !drawer.targetFits(classNames)) continue;
    targets.push(drawer.target(classNames, uniform));
  }

  const sources: WordNetTask[] = [];
  for (let s = 0; sources.length < options.sources; s++) {
    if (s > 50 * options.sources) throw new RangeError(`only ${sources.length} of ${options.sources} distinct sources could be built`);
    const target = targets[s % targets.length];
    const uniform = seededUniform(streamSeed(seed, 2, s));
    let built: { kind: Relation; classNames: string[][] } | undefined;
    for (let r = 0; r < RELATIONS.length && !built; r++) {
      const kind = RELATIONS[(s + r) % RELATIONS.length];
      const classNames = relate(kind, target, byPos, uniform);
      if (!classNames) continue;
      const taken = (textKind: TextKind) => sources.some((x) => x.name === taskName(classNames, textKind));
      if (!taken('definition') || !taken('example')) built = { kind, classNames };
    }
    if (!built) continue;
    const preferExamples = uniform() < options.exampleProbability;
    const free = (kind: TextKind) => drawer.sourceFits(built.classNames, kind) && !sources.some((x) => x.name === taskName(built.classNames, kind));
    const textKind: TextKind | undefined =
      preferExamples && free('example') ? 'example' : free('definition') ? 'definition' : free('example') ? 'example' : undefined;
    if (!textKind) continue;
    sources.push(drawer.source(built.classNames, textKind, uniform, { target: target.id, kind: built.kind }));
  }
  return { options, lexnames, sources, targets };
}

/** A task named by its classes (lexicographer files; a merged class lists several) and its kind of text. */
export interface WordNetTaskSpec {
  readonly classNames: readonly (readonly string[])[];
  readonly textKind: TextKind;
}

/**
 * Tasks chosen by hand rather than drawn (the demo pool's): each target (definitions) takes its
 * synsets first, then each source samples from what is left, so no synset is in both. Sizes, the
 * text length limit and the seed come from the options, as in the family.
 */
export function wordNetTasks(
  corpus: readonly Synset[],
  specs: { readonly targets: readonly WordNetTaskSpec[]; readonly sources: readonly WordNetTaskSpec[] },
  overrides: Partial<WordNetFamilyOptions> = {},
): { targets: WordNetTask[]; sources: WordNetTask[] } {
  const options: WordNetFamilyOptions = { ...WORDNET_FAMILY_DEFAULTS, ...overrides };
  const { lexnames } = lexicographerFiles(corpus, options);
  const drawer = new TaskDrawer(new SynsetPool(corpus, lexnames, options.seed, options.maxWords), lexnames, options);
  const copy = (spec: WordNetTaskSpec) => {
    const unknown = spec.classNames.flat().filter((f) => !lexnames.includes(f));
    if (unknown.length > 0) throw new RangeError(`${unknown.join(', ')}: not a lexicographer file with ${options.minSynsets} synsets`);
    return spec.classNames.map((c) => [...c]);
  };
  const targets = specs.targets.map((spec, t) => {
    const classNames = copy(spec);
    if (spec.textKind !== 'definition' || !drawer.targetFits(classNames))
      throw new RangeError(`target ${taskName(classNames, spec.textKind)}: targets are definitions, and the corpus must hold enough of them`);
    return drawer.target(classNames, seededUniform(streamSeed(options.seed, 1, t)));
  });
  const sources = specs.sources.map((spec, s) => {
    const classNames = copy(spec);
    if (!drawer.sourceFits(classNames, spec.textKind)) throw new RangeError(`source ${taskName(classNames, spec.textKind)}: the corpus holds too few texts`);
    return drawer.source(classNames, spec.textKind, seededUniform(streamSeed(options.seed, 2, s)));
  });
  return { targets, sources };
}

/** A source's classes from a target's by `kind`, or undefined when the relation does not apply. */
function relate(kind: Relation, target: WordNetTask, byPos: { noun: string[]; verb: string[] }, uniform: () => number): string[][] | undefined {
  const classes = target.classNames.map((c) => [...c]);
  const used = new Set(classes.flat());
  const unused = shuffleInPlace(
    byPos[target.pos].filter((f) => !used.has(f)),
    uniform,
  );
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
      const [a, b] = shuffleInPlace(
        classes.map((_, i) => i),
        uniform,
      );
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
      return shuffleInPlace(other.slice(), uniform)
        .slice(0, k)
        .map((f) => [f]);
    }
  }
}
