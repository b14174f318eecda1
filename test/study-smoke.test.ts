import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMOKE_STUDY } from '../src/study/config.js';
import { README_BEGIN, README_END, replaceReadmeSection, type StudyResults } from '../src/study/report.js';
import { runStudy } from '../src/study/run.js';
import { MODELS_ROOT } from './helpers/finetune.js';

let scratch: string;
let results: StudyResults;
const readmeBefore = `# project\n\nintro\n\n${README_BEGIN}\nold numbers\n${README_END}\n\n## after\n\ntext\n`;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'esmselect-study-test-'));
  await writeFile(join(scratch, 'README.md'), readmeBefore);
  const dataDirBefore = process.env.ESMSELECT_DATA_DIR;
  results = await runStudy({ config: SMOKE_STUDY, smoke: true, out: join(scratch, 'out'), readme: join(scratch, 'README.md'), modelsDir: MODELS_ROOT, onLog: () => {} });
  expect(process.env.ESMSELECT_DATA_DIR).toBe(dataDirBefore);
}, 120_000);
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('npm run study -- --smoke', () => {
  it('runs every phase on real fine-tunes and real ESMs', () => {
    const { family, repeats } = SMOKE_STUDY;
    expect(results.sources.map((s) => s.id)).toEqual(['study/source-01', 'study/source-02', 'study/source-03']);
    // One ESM registered per source, each trained from that source's fine-tune.
    expect(new Set(results.sources.map((s) => s.esmId)).size).toBe(family.sources);
    expect(results.sources.every((s) => s.esmBytes > 0 && s.modelBytes > s.esmBytes)).toBe(true);
    // (sources + target only) × targets × {none, gmt} × repeats.
    expect(results.pairs).toHaveLength((family.sources + 1) * family.targets * 2 * repeats);
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
  });

  it("reproduces the runner's own target stage exactly when the study fine-tunes the same pair from the checkpoint", () => {
    expect(results.reproduction).toEqual({ pairs: SMOKE_STUDY.family.sources, maxDifference: 0 });
  });

  it('writes the artefacts, and rewrites only the README section between the markers', async () => {
    const out = join(scratch, 'out');
    expect((await readdir(out)).sort()).toEqual(['metrics.csv', 'pairs.csv', 'plot.svg', 'results.json', 'scores.csv', 'sources.md', 'study.log', 'table.md', 'tasks.md']);
    const written = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as StudyResults;
    expect(written.pairs).toEqual(results.pairs);
    const pairsCsv = (await readFile(join(out, 'pairs.csv'), 'utf8')).trim().split('\n');
    expect(pairsCsv).toHaveLength(results.pairs.length + 1);
    expect(await readFile(join(out, 'plot.svg'), 'utf8')).toMatch(/^<svg [^>]*>[\s\S]*<circle[\s\S]*<\/svg>\n$/);
    const readme = await readFile(join(scratch, 'README.md'), 'utf8');
    expect(readme.startsWith('# project\n\nintro\n\n<!-- study:begin -->\n## ')).toBe(true);
    expect(readme.endsWith(`${README_END}\n\n## after\n\ntext\n`)).toBe(true);
    expect(readme).not.toContain('old numbers');
    expect(readme).toContain('| ESM-LogME |');
  });
});

describe('replaceReadmeSection', () => {
  it('appends the section with its markers when the README has none, and replaces it in place later', () => {
    const first = replaceReadmeSection('# x\n\ntext\n', 'one');
    expect(first).toBe(`# x\n\ntext\n\n${README_BEGIN}\none\n${README_END}\n`);
    expect(replaceReadmeSection(first, 'two')).toBe(`# x\n\ntext\n\n${README_BEGIN}\ntwo\n${README_END}\n`);
  });
});
