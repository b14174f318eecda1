/**
 * `npm run study [-- options]`: the miniature transfer study (see runStudy). The full run writes
 * study/ and rewrites the README's study section; `--smoke` runs 3 sources and 2 targets into
 * study-smoke/ (or `--out`) and leaves the README alone; `--render study/results.json` writes the
 * tables, the plot and the README section again from a run's results, without running anything.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { nonNegativeInteger, positiveInteger, reportError } from '../cli/errors.js';
import { PACKAGE_ROOT } from '../config.js';
import { UserInputError } from '../errors.js';
import { FULL_STUDY, SMOKE_STUDY } from './config.js';
import type { StudyResults } from './report.js';
import { runStudy, writeReport } from './run.js';

interface Flags {
  smoke?: boolean;
  seed?: number;
  repeats?: number;
  out?: string;
  readme: boolean;
  keepWork?: boolean;
  render?: string;
}

async function readResults(path: string): Promise<StudyResults> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UserInputError(`render: ${path} cannot be read (${(error as NodeJS.ErrnoException).code})`, 'render');
  }
  try {
    const results = JSON.parse(text) as StudyResults;
    if (results.version !== 1) throw new Error(`version ${String(results.version)}`);
    return results;
  } catch (error) {
    throw new UserInputError(`render: ${path} is not a study's results.json (${(error as Error).message})`, 'render');
  }
}

const program = new Command('study')
  .description('Miniature transfer study: real fine-tunes, real ESMs, regret of ESM-LogME and baselines')
  .option('--smoke', 'the whole pipeline on 3 sources and 2 targets of a few dozen examples (< 1 min)')
  .option('--seed <n>', 'seed of the task family and every stage', nonNegativeInteger)
  .option('--repeats <n>', 'target-stage fine-tunes per pair, with different seeds', positiveInteger)
  .option('--out <dir>', 'where the artefacts go (default study/, study-smoke/ with --smoke)')
  .option('--no-readme', "leave README.md's study section alone (always so with --smoke)")
  .option('--keep-work', 'keep the temporary data dir (registry, jobs, checkpoints)')
  .option('--render <results.json>', "only write the tables, the plot and the README section again from a run's results (into its folder, or --out)")
  .exitOverride();

try {
  program.parse(process.argv);
  const flags = program.opts<Flags>();
  const readme = (smoke: boolean) => (flags.readme && !smoke ? join(PACKAGE_ROOT, 'README.md') : undefined);
  if (flags.render) {
    const results = await readResults(flags.render);
    await writeReport(results, flags.out ?? dirname(flags.render), readme(results.smoke));
  } else {
    const preset = flags.smoke ? SMOKE_STUDY : FULL_STUDY;
    const config = {
      ...preset,
      family: { ...preset.family, seed: flags.seed ?? preset.family.seed },
      repeats: flags.repeats ?? preset.repeats,
    };
    await runStudy({
      config,
      smoke: flags.smoke ?? false,
      out: flags.out ?? join(PACKAGE_ROOT, flags.smoke ? 'study-smoke' : 'study'),
      readme: readme(flags.smoke ?? false),
      keepWork: flags.keepWork,
    });
  }
} catch (error) {
  if (error instanceof CommanderError) process.exitCode = error.exitCode;
  else reportError(error);
}
