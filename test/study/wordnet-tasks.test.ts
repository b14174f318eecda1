import { beforeAll, describe, expect, it } from 'vitest';
import { prepareTask } from '../../src/finetune/data.js';
import { loadTokenizer } from '../../src/finetune/tokenize.js';
import { textTask } from '../../study/context.js';
import type { StudyFamily, StudyTask } from '../../study/tasks.js';
import { readCorpus, type Synset } from '../../study/wordnet/corpus.js';
import { pairRelation } from '../../study/wordnet/relations.js';
import {
  classLabel,
  generateWordNetFamily,
  NATURAL_GROUPS,
  RELATIONS,
  taskName,
  type WordNetFamily,
  type WordNetFamilyOptions,
  type WordNetTask,
  wordNetTasks,
} from '../../study/wordnet/tasks.js';
import { tinyModel } from '../helpers/finetune.js';

/** A family on a slice of the corpus (every 10th synset), with small tasks. */
const SMALL: Partial<WordNetFamilyOptions> = {
  targets: 4,
  sources: 10,
  targetTrain: 30,
  targetValidation: 12,
  targetTest: 18,
  sourceExamples: 60,
  minSynsets: 60,
};

let slice: Synset[];
let family: WordNetFamily;
beforeAll(async () => {
  slice = (await readCorpus()).filter((_, i) => i % 10 === 0);
  family = generateWordNetFamily(slice, SMALL);
});

const classSets = (task: WordNetTask) => task.classNames.map((c) => c.join('+')).sort();
const count = (labels: readonly unknown[]) => [...labels.reduce((m: Map<unknown, number>, l) => m.set(l, (m.get(l) ?? 0) + 1), new Map()).values()];

describe('generateWordNetFamily', () => {
  it('is a function of the corpus and the seed', () => {
    expect(generateWordNetFamily(slice, SMALL)).toEqual(family);
    const other = generateWordNetFamily(slice, { ...SMALL, seed: 7 });
    expect(other.targets.map((t) => t.id)).not.toEqual(family.targets.map((t) => t.id));
  });

  it('makes small, balanced targets of definitions with train, validation and test splits', () => {
    expect(family.targets).toHaveLength(4);
    for (const target of family.targets) {
      expect(target.id).toBe(`wordnet-target/${target.name}`);
      expect(target.textKind).toBe('definition');
      expect([target.train.texts.length, target.validation!.texts.length, target.test!.texts.length]).toEqual([30, 12, 18]);
      const sizes = count(target.train.labels);
      expect(sizes).toHaveLength(target.classNames.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      expect(target.classNames.length).toBeGreaterThanOrEqual(2);
      expect(target.classNames.length).toBeLessThanOrEqual(3);
      // A merged class of a target is a natural group (animal-or-plant, …).
      for (const c of target.classNames.filter((c) => c.length > 1)) expect(NATURAL_GROUPS.map((g) => g.join('+'))).toContain(c.join('+'));
    }
    expect(new Set(family.targets.map((t) => t.id)).size).toBe(4);
  });

  it('labels every text with the lexicographer file of its synset', () => {
    const filesOf = new Map<string, Set<string>>();
    for (const s of slice) {
      for (const text of [s.definition, ...s.examples]) filesOf.set(text, (filesOf.get(text) ?? new Set()).add(s.lexname));
    }
    for (const task of [...family.targets, ...family.sources]) {
      for (const split of [task.train, task.validation, task.test]) {
        split?.texts.forEach((text, i) => {
          const label = split.labels[i] as string;
          expect(task.classNames.map((c) => c.join('+'))).toContain(label);
          expect(
            label.split('+').some((file) => filesOf.get(text)?.has(file)),
            `${task.id}: "${text}" labelled ${label}`,
          ).toBe(true);
        });
      }
    }
  });

  it('builds each source from a target by its relation, on synsets the targets do not use', () => {
    expect(family.sources).toHaveLength(10);
    expect(new Set(family.sources.map((s) => s.id)).size).toBe(10);
    const targetTexts = new Set(family.targets.flatMap((t) => [t.train, t.validation!, t.test!].flatMap((s) => s.texts)));
    const seen = new Set<string>();
    for (const source of family.sources) {
      const target = family.targets.find((t) => t.id === source.relation!.target)!;
      expect(source.id).toBe(`wordnet/${source.name}`);
      expect(source.name).toBe(taskName(source.classNames, source.textKind));
      expect(source.train.texts.length).toBeGreaterThanOrEqual(58);
      expect(source.train.texts.filter((t) => targetTexts.has(t))).toEqual([]);
      const ours = classSets(source);
      const theirs = classSets(target);
      const files = new Set(target.classNames.flat());
      switch (source.relation!.kind) {
        case 'share':
          expect(ours).toEqual(theirs);
          break;
        case 'split': {
          const merged = target.classNames.find((c) => c.length > 1)!;
          expect(ours).toEqual([...theirs.filter((c) => c !== merged.join('+')), ...merged].sort());
          break;
        }
        case 'merge':
          expect(source.classNames.some((c) => c.length > 1 && target.classNames.filter((t) => t.every((f) => c.includes(f))).length === 2)).toBe(true);
          break;
        case 'miss':
          expect(ours.filter((c) => theirs.includes(c))).toHaveLength(theirs.length - 1);
          expect(source.classNames.flat().filter((f) => !files.has(f))).toHaveLength(1);
          break;
        case 'unrelated':
          expect(source.pos).not.toBe(target.pos);
          expect(source.classNames.flat().filter((f) => files.has(f))).toEqual([]);
          break;
      }
      seen.add(source.relation!.kind);
    }
    // Ten sources over four targets go round all five relations.
    expect([...seen].sort()).toEqual([...RELATIONS].sort());
  });

  it('names tasks so a person can read them', () => {
    expect(taskName([['noun.animal'], ['noun.plant'], ['noun.food']], 'definition')).toBe('animal-vs-plant-vs-food');
    expect(taskName([['verb.contact', 'verb.motion'], ['verb.communication']], 'example')).toBe('contact-or-motion-vs-communication-verbs-usage');
  });

  it("gives tasks the study's pipeline takes: StudyTasks that the runner prepares", async () => {
    // The study's context takes the family as it is.
    const usable: StudyFamily = family;
    const target: StudyTask = usable.targets[0];
    const tokenizer = await loadTokenizer(tinyModel('tiny-bert'));
    const prepared = prepareTask(textTask(target), tokenizer, { heldOutFraction: 0.1, seed: 0, field: 'target' });
    expect(prepared.numLabels).toBe(family.targets[0].classNames.length);
    expect(prepared.train.size).toBe(30);
    expect(prepared.evaluation.size).toBe(12);
    expect(target.classes.map((c) => c.map((i) => family.lexnames[i]))).toEqual(family.targets[0].classNames);
  });
});

describe('texts of at most maxWords words', () => {
  it('keeps every text of every split within the limit, and the family otherwise drawn the same way', () => {
    const limited = generateWordNetFamily(slice, { ...SMALL, maxWords: 8 });
    const texts = [...limited.targets, ...limited.sources].flatMap((t) => [t.train, t.validation, t.test].flatMap((split) => split?.texts ?? []));
    expect(texts.length).toBeGreaterThan(600);
    expect(texts.filter((t) => t.split(' ').length > 8)).toEqual([]);
    // Without the limit (0), longer texts are in.
    expect(family.targets.flatMap((t) => t.train.texts).some((t) => t.split(' ').length > 8)).toBe(true);
    expect(limited.targets).toHaveLength(SMALL.targets!);
    expect(limited.sources).toHaveLength(SMALL.sources!);
  });
});

describe('wordNetTasks: tasks chosen by hand', () => {
  const spec = (textKind: 'definition' | 'example', ...classes: string[]) => ({ classNames: classes.map((c) => c.split('+')), textKind });

  it('draws the named target and sources, labelled by their files, no synset in both', () => {
    const { targets, sources } = wordNetTasks(
      slice,
      {
        targets: [spec('definition', 'noun.animal', 'noun.plant', 'noun.food')],
        sources: [spec('definition', 'noun.animal+noun.plant', 'noun.food'), spec('definition', 'verb.motion', 'verb.communication')],
      },
      SMALL,
    );
    expect(targets.map((t) => t.id)).toEqual(['wordnet-target/animal-vs-plant-vs-food']);
    expect(sources.map((t) => t.id)).toEqual(['wordnet/animal-or-plant-vs-food', 'wordnet/motion-vs-communication-verbs']);
    expect(sources[0].train.texts).toHaveLength(60);
    expect(new Set(sources[0].train.labels)).toEqual(new Set(['noun.animal+noun.plant', 'noun.food']));
    const targetTexts = new Set([targets[0].train, targets[0].validation!, targets[0].test!].flatMap((s) => s.texts));
    expect(sources.flatMap((s) => s.train.texts).filter((t) => targetTexts.has(t))).toEqual([]);
    // The same specs and seed, the same tasks.
    expect(
      wordNetTasks(
        slice,
        {
          targets: [spec('definition', 'noun.animal', 'noun.plant', 'noun.food')],
          sources: [spec('definition', 'noun.animal+noun.plant', 'noun.food'), spec('definition', 'verb.motion', 'verb.communication')],
        },
        SMALL,
      ).sources,
    ).toEqual(sources);
  });

  it('refuses a file that takes no part, a target of usage examples, and more texts than the corpus holds', () => {
    expect(() => wordNetTasks(slice, { targets: [], sources: [spec('definition', 'noun.animal', 'noun.unicorn')] }, SMALL)).toThrow(
      /noun.unicorn: not a lexicographer file/,
    );
    expect(() => wordNetTasks(slice, { targets: [spec('example', 'noun.animal', 'noun.plant')], sources: [] }, SMALL)).toThrow(/targets are definitions/);
    expect(() => wordNetTasks(slice, { targets: [], sources: [spec('example', 'noun.animal', 'noun.plant')] }, { ...SMALL, sourceExamples: 5000 })).toThrow(
      /too few texts/,
    );
  });
});

describe('pairRelation', () => {
  const target = ['noun.animal+noun.plant', 'noun.food', 'noun.artifact'];
  it("names how a source's classes stand to a target's", () => {
    expect(pairRelation(['noun.food', 'noun.artifact', 'noun.animal+noun.plant'], target)).toBe('share');
    expect(pairRelation(['noun.animal', 'noun.plant', 'noun.food', 'noun.artifact'], target)).toBe('split');
    expect(pairRelation(['noun.animal+noun.food+noun.plant', 'noun.artifact'], target)).toBe('merge');
    // A two-class target merged, with another file beside it (what the family's merge builds then).
    expect(pairRelation(['noun.cognition+noun.substance', 'noun.object'], ['noun.cognition', 'noun.substance'])).toBe('merge');
    expect(pairRelation(['noun.animal+noun.plant', 'noun.food', 'noun.person'], target)).toBe('miss');
    expect(pairRelation(['noun.animal', 'noun.person'], target)).toBe('overlap');
    expect(pairRelation(['verb.motion', 'verb.contact'], target)).toBe('disjoint');
  });

  it('agrees with the relation each source of the family was built by', () => {
    for (const source of family.sources) {
      const built = family.targets.find((t) => t.id === source.relation!.target)!;
      const kind = pairRelation(source.classNames.map(classLabel), built.classNames.map(classLabel));
      expect(kind, source.id).toBe(source.relation!.kind === 'unrelated' ? 'disjoint' : source.relation!.kind);
    }
  });
});
