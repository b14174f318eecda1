import type { LabelledTexts } from '../src/finetune/data.js';
import { seededUniform, shuffleInPlace } from '../src/random.js';

/**
 * Words of models/tiny-bert's vocabulary (whole-word WordPiece entries) that the synthetic tasks are
 * written in; test/study/study-tasks.test.ts checks that each is one token of the tokenizer, never [UNK].
 * Function words fill sentences and never carry a label.
 */
export const FUNCTION_WORDS = (
  'the an and or but not if then than so too very really quite just also only even still is was are were be been ' +
  'it its this that these those there here you he she we they me him us them my your his her our their of to in on ' +
  'at for with from by about as into over under after before between through during without against up down out off'
).split(' ');

/** Content words: dealt out as the keyword groups (topics) and the domains' vocabularies. */
export const CONTENT_WORDS = (
  'one two three four five ten first second last next new old long short big small large little good bad great ' +
  'terrible awful excellent nice fine best worst better worse right wrong true false love hate like enjoy want need ' +
  'feel think know see look watch read write say said tell ask answer question go went come came make made take took ' +
  'get got give gave find found work play run walk talk movie film book story plot actor acting music song show ' +
  'series scene end ending character characters food service place restaurant hotel room staff price money pay buy ' +
  'sell market stock company business time day days night week month year years today people person man woman men ' +
  'women child children world life home house city country car road school student teacher class news sport sports ' +
  'game team win won lose lost match score goal science technology computer phone data model language text word ' +
  'sentence review reviews product quality happy sad funny boring beautiful interesting amazing disappointing fast ' +
  'slow hot cold easy hard free full empty open close early late high low strong weak positive negative neutral yes ' +
  'nothing something everything anything never always often sometimes'
).split(' ');

/** How the family is drawn; every field has a default (`FAMILY_DEFAULTS`). */
export interface FamilyOptions {
  readonly seed: number;
  readonly sources: number;
  readonly targets: number;
  /** Keyword groups (latent topics) and words per group. */
  readonly groups: number;
  readonly groupSize: number;
  /**
   * Domains: windows of `domainSize` words on a ring of domain words, each `domainStep` after the
   * previous, so neighbouring domains share `domainSize − domainStep` words and distant ones none.
   */
  readonly domains: number;
  readonly domainSize: number;
  readonly domainStep: number;
  /** Classes of a source task (drawn uniformly in this range) and of a target task. */
  readonly sourceClasses: readonly [number, number];
  readonly targetClasses: number;
  /** Chance that a source's class is the union of two groups rather than one. */
  readonly mergeProbability: number;
  readonly sourceExamples: number;
  readonly targetTrain: number;
  readonly targetValidation: number;
  readonly targetTest: number;
  /** Chance that a text also holds a keyword of a group its task does not use. */
  readonly distractorProbability: number;
  /** Words per text, drawn uniformly in this range. */
  readonly textLength: readonly [number, number];
}

export const FAMILY_DEFAULTS: FamilyOptions = {
  seed: 20240917,
  sources: 12,
  targets: 6,
  groups: 12,
  groupSize: 6,
  domains: 6,
  domainSize: 16,
  domainStep: 8,
  sourceClasses: [2, 4],
  targetClasses: 3,
  mergeProbability: 0.25,
  sourceExamples: 1000,
  targetTrain: 200,
  targetValidation: 100,
  targetTest: 600,
  distractorProbability: 0.5,
  textLength: [4, 7],
};

/** One task of the family: which groups each class stands for, and its data. */
export interface StudyTask {
  /** `study/source-03`, `study/target-1`: the ESM's task_id. */
  readonly id: string;
  readonly role: 'source' | 'target';
  readonly domain: number;
  /** The keyword groups of each class, in label order; a class's label is its groups' names joined by `+`. */
  readonly classes: readonly (readonly number[])[];
  readonly train: LabelledTexts;
  /** Targets only: the split that picks the best epoch, and the split accuracy is measured on. */
  readonly validation?: LabelledTexts;
  readonly test?: LabelledTexts;
}

/** What the study's pipeline (sources, selection, ground truth) needs of a family of tasks. */
export interface StudyFamily {
  readonly sources: readonly StudyTask[];
  readonly targets: readonly StudyTask[];
}

export interface TaskFamily extends StudyFamily {
  readonly options: FamilyOptions;
  readonly groups: readonly (readonly string[])[];
  readonly domainWords: readonly (readonly string[])[];
}

/** A seed for an independent stream, mixed from the family seed and a path (Murmur3's finaliser). */
export function streamSeed(seed: number, ...path: number[]): number {
  let h = seed >>> 0;
  for (const part of path) {
    h = Math.imul(h ^ (part >>> 0), 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
  }
  return h >>> 0;
}

export function groupName(group: number): string {
  return `g${String(group).padStart(2, '0')}`;
}

export function classLabel(groups: readonly number[]): string {
  return groups.map(groupName).join('+');
}

/** `count` distinct integers below `below`, in draw order. */
function distinct(uniform: () => number, below: number, count: number): number[] {
  return Array.from(
    shuffleInPlace(
      Int32Array.from({ length: below }, (_, i) => i),
      uniform,
    ).subarray(0, count),
  );
}

const pick = <T>(uniform: () => number, items: readonly T[]): T => items[Math.floor(uniform() * items.length)];

/**
 * Texts of a task: each `textLength` words, with one keyword (two, a third of the time) of its class's
 * groups, a keyword of an unused group with `distractorProbability`, and the rest words of the
 * task's domain (60 %) or function words. Labels go round the classes, so splits are balanced.
 */
function writeSplit(family: Omit<TaskFamily, 'sources' | 'targets'>, task: Pick<StudyTask, 'domain' | 'classes'>, size: number, seed: number): LabelledTexts {
  const uniform = seededUniform(seed);
  const { groups, domainWords, options } = family;
  const used = new Set(task.classes.flat());
  const unused = groups.map((_, g) => g).filter((g) => !used.has(g));
  const texts: string[] = [];
  const labels: string[] = [];
  for (let i = 0; i < size; i++) {
    const classGroups = task.classes[i % task.classes.length];
    const [shortest, longest] = options.textLength;
    const length = shortest + Math.floor(uniform() * (longest - shortest + 1));
    const words: string[] = [];
    const keywords = uniform() < 1 / 3 ? 2 : 1;
    for (let k = 0; k < keywords; k++) words.push(pick(uniform, groups[pick(uniform, classGroups)]));
    if (unused.length > 0 && uniform() < options.distractorProbability) words.push(pick(uniform, groups[pick(uniform, unused)]));
    while (words.length < length) words.push(uniform() < 0.6 ? pick(uniform, domainWords[task.domain]) : pick(uniform, FUNCTION_WORDS));
    texts.push(shuffleInPlace(words, uniform).join(' '));
    labels.push(classLabel(classGroups));
  }
  return { texts, labels };
}

/**
 * The study's family of text classification tasks with an explicit latent structure. The content
 * words are dealt (seeded) into keyword groups and a ring of domain words. A task's label says which
 * of its classes' keyword groups the text's keywords come from; its other words come from its domain.
 * Sources use 2–4 classes, a class sometimes merging two groups (teaching that two groups are alike,
 * which hurts a target that tells them apart); targets use `targetClasses` single groups and have
 * few training examples. How much a source can help a target thus depends on shared groups, how
 * they are split into classes, and (for the words around the keywords) shared domain words.
 */
export function generateFamily(overrides: Partial<FamilyOptions> = {}): TaskFamily {
  const options: FamilyOptions = { ...FAMILY_DEFAULTS, ...overrides };
  const { seed } = options;
  const keywordCount = options.groups * options.groupSize;
  const ringSize = options.domains * options.domainStep;
  if (keywordCount + ringSize > CONTENT_WORDS.length) {
    throw new RangeError(
      `${options.groups} groups of ${options.groupSize} and ${options.domains} domains need ${keywordCount + ringSize} content words; there are ${CONTENT_WORDS.length}`,
    );
  }
  if (options.domainSize > ringSize) throw new RangeError(`domainSize ${options.domainSize} exceeds the ${ringSize} domain words`);
  const words = shuffleInPlace([...CONTENT_WORDS], seededUniform(streamSeed(seed, 0)));
  const groups = Array.from({ length: options.groups }, (_, g) => words.slice(g * options.groupSize, (g + 1) * options.groupSize));
  const ring = words.slice(keywordCount, keywordCount + ringSize);
  const domainWords = Array.from({ length: options.domains }, (_, d) =>
    Array.from({ length: options.domainSize }, (_, k) => ring[(d * options.domainStep + k) % ringSize]),
  );
  const vocabulary = { options, groups, domainWords };

  const sources = Array.from({ length: options.sources }, (_, s): StudyTask => {
    const uniform = seededUniform(streamSeed(seed, 1, s));
    const [low, high] = options.sourceClasses;
    const classCount = low + Math.floor(uniform() * (high - low + 1));
    const merged = Array.from({ length: classCount }, () => uniform() < options.mergeProbability);
    const drawn = distinct(uniform, options.groups, classCount + merged.filter(Boolean).length);
    let next = 0;
    const classes = merged.map((twice) => (twice ? [drawn[next++], drawn[next++]] : [drawn[next++]]));
    const task = { domain: Math.floor(uniform() * options.domains), classes };
    return {
      id: `study/source-${String(s + 1).padStart(2, '0')}`,
      role: 'source',
      ...task,
      train: writeSplit(vocabulary, task, options.sourceExamples, streamSeed(seed, 2, s)),
    };
  });

  const targets = Array.from({ length: options.targets }, (_, t): StudyTask => {
    const uniform = seededUniform(streamSeed(seed, 3, t));
    const classes = distinct(uniform, options.groups, options.targetClasses).map((g) => [g]);
    const task = { domain: Math.floor(uniform() * options.domains), classes };
    const split = (k: number, size: number) => writeSplit(vocabulary, task, size, streamSeed(seed, 4, t, k));
    return {
      id: `study/target-${t + 1}`,
      role: 'target',
      ...task,
      train: split(0, options.targetTrain),
      validation: split(1, options.targetValidation),
      test: split(2, options.targetTest),
    };
  });
  return { ...vocabulary, sources, targets };
}
