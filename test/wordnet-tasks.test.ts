import { beforeAll, describe, expect, it } from 'vitest';
import { prepareTask } from '../src/finetune/data.js';
import { loadTokenizer } from '../src/finetune/tokenize.js';
import { textTask } from '../src/study/context.js';
import type { StudyFamily, StudyTask } from '../src/study/tasks.js';
import { readCorpus, type Synset } from '../src/study/wordnet/corpus.js';
import { generateWordNetFamily, NATURAL_GROUPS, RELATIONS, taskName, type WordNetFamily, type WordNetFamilyOptions, type WordNetTask } from '../src/study/wordnet/tasks.js';
import { tinyModel } from './helpers/finetune.js';

/** A family on a slice of the corpus (every 10th synset), with small tasks. */
const SMALL: Partial<WordNetFamilyOptions> = { targets: 4, sources: 10, targetTrain: 30, targetValidation: 12, targetTest: 18, sourceExamples: 60, minSynsets: 60 };

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
          expect(label.split('+').some((file) => filesOf.get(text)?.has(file)), `${task.id}: "${text}" labelled ${label}`).toBe(true);
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
