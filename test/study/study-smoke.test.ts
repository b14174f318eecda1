import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_DIRS, SMOKE_STUDIES } from '../../study/config.js';
import { type StudyResults, upgradeResults } from '../../study/report.js';
import { runStudy } from '../../study/run.js';
import { readingLines, replaceSection, SECTION_BEGIN, SECTION_END, SUMMARY_BEGIN, SUMMARY_END, writeStudyDoc, writeStudySummary } from '../../study/section.js';
import { MODELS_ROOT } from '../helpers/finetune.js';

const config = SMOKE_STUDIES.pretrained;
let scratch: string;
let results: StudyResults;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'esmselect-study-test-'));
  const dataDirBefore = process.env.ESMSELECT_DATA_DIR;
  // Two processes for the ground truth: the runner's own target stage (in this process) must agree with theirs.
  results = await runStudy({ config, smoke: true, out: join(scratch, 'out'), modelsDir: MODELS_ROOT, processes: 2, onLog: () => {} });
  expect(process.env.ESMSELECT_DATA_DIR).toBe(dataDirBefore);
}, 240_000);
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('npm run study -- --smoke', () => {
  it('runs every phase on real fine-tunes of wordnet-bert and real ESMs, on WordNet tasks', () => {
    const { family, repeats } = config;
    expect(results.sources.map((s) => s.id).every((id) => id.startsWith('wordnet/'))).toBe(true);
    expect(results.sources).toHaveLength(family.sources);
    // One ESM registered per source, each trained from that source's fine-tune.
    expect(new Set(results.sources.map((s) => s.esmId)).size).toBe(family.sources);
    expect(results.sources.every((s) => s.esmBytes > 0 && s.modelBytes > s.esmBytes)).toBe(true);
    // (sources + target only) × targets × {none, gmt} × repeats, in the order of the jobs whatever process ran them.
    expect(results.pairs).toHaveLength((family.sources + 1) * family.targets * 2 * repeats);
    expect(results.pairs.slice(0, 2).map((p) => [p.source, p.mask])).toEqual([
      [null, 'none'],
      [null, 'gmt'],
    ]);
    expect(results.pairs.every((p) => p.testAccuracy >= 0 && p.testAccuracy <= 1)).toBe(true);
    // Every scoring method scored every source for every target, ESM-LogME through the registry.
    for (const entry of results.scores) {
      for (const method of ['esm-logme', 'finetuned-logme', 'textemb', 'base-logme'] as const) {
        expect(entry.scores[method]).toHaveLength(family.sources);
        expect(entry.scores[method]!.every(Number.isFinite)).toBe(true);
      }
      expect(new Set(entry.scores['base-logme']).size).toBe(1);
    }
    expect(results.metrics).toHaveLength(5 * 2);
    for (const m of results.metrics) expect(m.regret1 >= 0 && m.regret3 >= 0 && m.regret1 <= 100).toBe(true);
    expect(results.environment.processes).toBe(2);
    // The child processes' CPU time is counted: more than this process alone could have spent on the ground truth's share.
    expect(results.seconds.cpu).toBeGreaterThan(0);
  });

  it("reproduces the runner's own target stage exactly when a ground-truth process fine-tunes the same pair from the checkpoint", () => {
    expect(results.reproduction).toEqual({ pairs: config.family.sources, maxDifference: 0 });
  });

  it('writes the artefacts of the run', async () => {
    const out = join(scratch, 'out');
    expect((await readdir(out)).sort()).toEqual([
      'metrics.csv',
      'pairs.csv',
      'plot.svg',
      'results.json',
      'scores.csv',
      'sources.md',
      'study.log',
      'table.md',
      'tasks.md',
    ]);
    const written = upgradeResults(JSON.parse(await readFile(join(out, 'results.json'), 'utf8')));
    expect(written.pairs).toEqual(results.pairs);
    const pairsCsv = (await readFile(join(out, 'pairs.csv'), 'utf8')).trim().split('\n');
    expect(pairsCsv).toHaveLength(results.pairs.length + 1);
    expect(await readFile(join(out, 'plot.svg'), 'utf8')).toMatch(/^<svg [^>]*>[\s\S]*<circle[\s\S]*<\/svg>\n$/);
    const tables = await readFile(join(out, 'table.md'), 'utf8');
    expect(tables).toContain('| ESM-LogME |');
    expect(tables).toContain('# By relation of source to target');
    expect(await readFile(join(out, 'tasks.md'), 'utf8')).toContain('| wordnet-target/');
  });

  it("writes the doc's section from both runs (the control's committed results beside this one), and only between the markers", async () => {
    const control = upgradeResults(JSON.parse(readFileSync(join(RUN_DIRS.control, 'results.json'), 'utf8')));
    expect(control.config.tasks).toBe('synthetic');
    const doc = join(scratch, 'docs', 'study.md');
    await rm(join(scratch, 'docs'), { recursive: true, force: true });
    await writeStudyDoc(doc, { pretrained: results, control }, { pretrained: join(scratch, 'out'), control: join(scratch, 'control') });
    const first = await readFile(doc, 'utf8');
    expect(first.startsWith(`${SECTION_BEGIN}\n## `)).toBe(true);
    for (const heading of [
      '### The two runs side by side',
      '### The pretrained run: wordnet-bert on WordNet tasks',
      '### The control: random-weight tiny-bert on synthetic tasks',
    ])
      expect(first).toContain(heading);
    // Links relative to the doc.
    expect(first).toContain('](../out/plot.svg)');
    expect(first).toContain('](../control/plot.svg)');
    expect(first).toMatch(/\| ESM held-out R², mean \(min to max\) \| [−\d.]+ \([−\d.]+ to [−\d.]+\) \| [−\d.]+ \(/);
    // What the numbers mean, in words written from them.
    expect(first).toContain('What the numbers mean:');
    expect(first).toMatch(
      /\*\*What the ESMs explain\.\*\* On held-out texts the ESMs explain R² [−\d.]+ of the fine-tuned embeddings of wordnet-bert on average, against [−\d.]+ for the random-weight control/,
    );
    expect(first).toMatch(/\*\*Target by target\*\*, ESM-LogME's top three do worse than a random three on \d+ of 2 targets/);

    await writeFile(doc, `# Study\n\nintro\n\n${SECTION_BEGIN}\nold numbers\n${SECTION_END}\n\n## Reading it\n\ntext\n`);
    await writeStudyDoc(doc, { pretrained: results }, { pretrained: join(scratch, 'out'), control: join(scratch, 'control') });
    const again = await readFile(doc, 'utf8');
    expect(again.startsWith(`# Study\n\nintro\n\n${SECTION_BEGIN}\n## `)).toBe(true);
    expect(again.endsWith(`${SECTION_END}\n\n## Reading it\n\ntext\n`)).toBe(true);
    expect(again).not.toContain('old numbers');
    expect(again).not.toContain('### The control');
  });

  it("writes the README's summary between its markers: both runs side by side and what the numbers mean, linked to the doc", async () => {
    const control = upgradeResults(JSON.parse(readFileSync(join(RUN_DIRS.control, 'results.json'), 'utf8')));
    const readme = join(scratch, 'README.md');
    await writeFile(readme, `# esmselect\n\n## Does it pick tasks that help?\n\n${SUMMARY_BEGIN}\nold\n${SUMMARY_END}\n\n## Next\n`);
    await writeStudySummary(readme, { pretrained: results, control }, join(scratch, 'docs', 'study.md'));
    const written = await readFile(readme, 'utf8');
    expect(written.startsWith(`# esmselect\n\n## Does it pick tasks that help?\n\n${SUMMARY_BEGIN}\n`)).toBe(true);
    expect(written.endsWith(`${SUMMARY_END}\n\n## Next\n`)).toBe(true);
    expect(written).not.toContain('old');
    expect(written).toContain('[docs/study.md](docs/study.md)');
    expect(written).toMatch(/\| regret@1 \(%\), ESM-LogME \| [\d.]+ \| [\d.]+ \|/);
    expect(written).toContain('What the numbers mean:');
    // A README without the markers is not written blindly at its end.
    await writeFile(readme, '# esmselect\n');
    await expect(writeStudySummary(readme, { pretrained: results, control }, join(scratch, 'docs', 'study.md'))).rejects.toThrow(SUMMARY_BEGIN);
  });
});

describe('readingLines', () => {
  it('names the cheaper method that beats ESM-LogME, on which metric, and says nothing of losses when none does', () => {
    const withMetrics = (esmRegret3: number, textembRegret3: number): StudyResults => ({
      ...results,
      metrics: results.metrics.map((m) => {
        if (m.mask !== 'none') return m;
        if (m.method === 'esm-logme') return { ...m, regret1: 10, regret3: esmRegret3, spearman: 0.5 };
        if (m.method === 'textemb') return { ...m, regret1: 20, regret3: textembRegret3, spearman: 0.1 };
        if (m.method === 'random' || m.method === 'base-logme') return { ...m, regret1: 30, regret3: 30, spearman: m.method === 'random' ? 0 : null };
        return m;
      }),
    });
    const losing = readingLines(withMetrics(8, 4), undefined).join('\n');
    expect(losing).toContain('**Where ESM-LogME loses** (vanilla ground truth): it is beaten by TextEmb (regret@3 4.00 % against 8.00 %).');
    const winning = readingLines(withMetrics(4, 8), undefined).join('\n');
    expect(winning).not.toContain('Where ESM-LogME loses');
    expect(winning).toContain('it does at least as well as TextEmb, base-embedding LogME and random');
  });
});

describe('replaceSection', () => {
  it('appends the section with its markers when the document has none, and replaces it in place later', () => {
    const first = replaceSection('# x\n\ntext\n', 'one');
    expect(first).toBe(`# x\n\ntext\n\n${SECTION_BEGIN}\none\n${SECTION_END}\n`);
    expect(replaceSection(first, 'two')).toBe(`# x\n\ntext\n\n${SECTION_BEGIN}\ntwo\n${SECTION_END}\n`);
    expect(replaceSection('', 'one')).toBe(`${SECTION_BEGIN}\none\n${SECTION_END}\n`);
  });
});

describe('upgradeResults', () => {
  it('reads a version 1 results.json (the synthetic study before the WordNet run) as version 2, and refuses others', () => {
    const v1 = { version: 1, config: { model: 'tiny-bert', family: { seed: 1 } }, environment: { cpus: 2 } };
    expect(upgradeResults(v1)).toMatchObject({ version: 2, config: { tasks: 'synthetic', model: 'tiny-bert' }, environment: { cpus: 2, processes: 1 } });
    expect(() => upgradeResults({ version: 3 })).toThrow(/version 3/);
  });
});
