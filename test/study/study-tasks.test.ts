import { describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../src/finetune/tokenize.js';
import { CONTENT_WORDS, classLabel, FUNCTION_WORDS, generateFamily, type StudyTask, streamSeed } from '../../study/tasks.js';
import { tinyModel } from '../helpers/finetune.js';

const SMALL = { sourceExamples: 60, targetTrain: 30, targetValidation: 12, targetTest: 24 } as const;

describe('the study task family', () => {
  it('is the same for the same seed, and another for another seed', () => {
    const a = generateFamily({ ...SMALL, seed: 7 });
    const b = generateFamily({ ...SMALL, seed: 7 });
    const c = generateFamily({ ...SMALL, seed: 8 });
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(c.sources.map((s) => s.train.texts)).not.toEqual(a.sources.map((s) => s.train.texts));
    expect(c.groups).not.toEqual(a.groups);
  });

  it('has the requested tasks and splits, with balanced labels', () => {
    const family = generateFamily({ ...SMALL, sources: 5, targets: 3 });
    expect(family.sources.map((s) => s.id)).toEqual(['study/source-01', 'study/source-02', 'study/source-03', 'study/source-04', 'study/source-05']);
    expect(family.targets.map((t) => t.id)).toEqual(['study/target-1', 'study/target-2', 'study/target-3']);
    for (const source of family.sources) {
      expect(source.classes.length).toBeGreaterThanOrEqual(2);
      expect(source.classes.length).toBeLessThanOrEqual(4);
      expect(source.train.texts).toHaveLength(60);
      expect(source.validation).toBeUndefined();
    }
    for (const target of family.targets) {
      expect(target.classes).toHaveLength(3);
      expect(target.classes.every((c) => c.length === 1)).toBe(true);
      expect([target.train.texts.length, target.validation!.texts.length, target.test!.texts.length]).toEqual([30, 12, 24]);
      const counts = new Map<unknown, number>();
      for (const label of target.train.labels) counts.set(label, (counts.get(label) ?? 0) + 1);
      expect([...counts.values()]).toEqual([10, 10, 10]);
    }
    // The splits of a target are drawn independently: no test text is the training text at the same row.
    const target = family.targets[0];
    expect(target.test!.texts.slice(0, 12)).not.toEqual(target.train.texts.slice(0, 12));
  });

  it('labels each text by the keyword groups it draws from: a keyword of its class, none of the other classes', () => {
    const family = generateFamily({ ...SMALL, mergeProbability: 0.5 });
    const groupOf = new Map<string, number>();
    family.groups.forEach((words, g) => words.forEach((w) => groupOf.set(w, g)));
    const check = (task: StudyTask) => {
      const used = new Set(task.classes.flat());
      task.train.texts.forEach((text, i) => {
        const classGroups = task.classes.find((c) => classLabel(c) === task.train.labels[i])!;
        expect(classGroups).toBeDefined();
        const groups = text.split(' ').flatMap((w) => (groupOf.has(w) ? [groupOf.get(w)!] : []));
        expect(groups.some((g) => classGroups.includes(g))).toBe(true);
        // Keywords of the task's other classes never appear; those of unused groups may (distractors).
        expect(groups.filter((g) => used.has(g)).every((g) => classGroups.includes(g))).toBe(true);
      });
    };
    [...family.sources, ...family.targets].forEach(check);
    expect(family.sources.some((s) => s.classes.some((c) => c.length === 2))).toBe(true);
  });

  it('deals disjoint keyword groups, and domains that overlap their neighbours by domainSize − domainStep words', () => {
    const family = generateFamily();
    const keywords = family.groups.flat();
    expect(new Set(keywords).size).toBe(keywords.length);
    for (const domain of family.domainWords) expect(domain.some((w) => keywords.includes(w))).toBe(false);
    const shared = (a: readonly string[], b: readonly string[]) => a.filter((w) => b.includes(w)).length;
    const { domainWords, options } = family;
    expect(shared(domainWords[0], domainWords[1])).toBe(options.domainSize - options.domainStep);
    expect(shared(domainWords[0], domainWords[2])).toBe(0);
    expect(() => generateFamily({ groups: 40 })).toThrow(RangeError);
  });

  it('writes only words that tiny-bert tokenises as one known token each', async () => {
    const tokenizer = await loadTokenizer(tinyModel('tiny-bert'));
    const words = [...CONTENT_WORDS, ...FUNCTION_WORDS];
    const unknown = 1; // [UNK] in models/tiny-bert/vocab.txt
    const tokenized = tokenizer.tokenize(words);
    const bad = words.filter((_, i) => tokenized[i].length !== 3 || tokenized[i][1] === unknown);
    expect(bad).toEqual([]);
    expect(new Set(words).size).toBe(words.length);
  });

  it('derives independent stream seeds: unsigned 32-bit, different per path', () => {
    const seeds = [streamSeed(1, 0), streamSeed(1, 1), streamSeed(2, 0), streamSeed(1, 0, 0), streamSeed(1, 2, 3)];
    expect(new Set(seeds).size).toBe(seeds.length);
    for (const s of seeds) expect(Number.isInteger(s) && s >= 0 && s < 2 ** 32).toBe(true);
  });
});
