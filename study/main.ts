/**
 * `npm run study [-- options]`: the transfer study in miniature (see runStudy), in two runs. The
 * pretrained run (wordnet-bert on WordNet tasks) writes study/pretrained/, `--control` the control
 * (the random-weight tiny-bert on synthetic tasks) study/control/; either then rewrites the study's
 * section of STUDY_DOC from both runs' results. `--smoke` runs 3 sources and 2 targets into
 * study-smoke/ (or `--out`) and leaves the doc alone; `--render` writes both runs' tables and plots
 * and the doc again from their results.json, without running anything.
 */
import { access, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { nonNegativeInteger, positiveInteger, reportError } from '../src/cli/errors.js';
import { PACKAGE_ROOT } from '../src/config.js';
import { UserInputError } from '../src/errors.js';
import { RUN_DIRS, SMOKE_STUDIES, STUDIES, STUDY_DOC, STUDY_RUNS, type StudyRun } from './config.js';

/** The README, whose summary of the study the script writes too. */
const README = join(PACKAGE_ROOT, 'README.md');

import { type StudyResults, upgradeResults } from './report.js';
import { runStudy, writeReport } from './run.js';
import { writeStudyDoc, writeStudySummary } from './section.js';

interface Flags {
  control?: boolean;
  smoke?: boolean;
  seed?: number;
  repeats?: number;
  processes?: number;
  out?: string;
  doc: boolean;
  keepWork?: boolean;
  render?: boolean;
}

async function readResults(path: string): Promise<StudyResults> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UserInputError(`${path} cannot be read (${(error as NodeJS.ErrnoException).code})`, 'render');
  }
  try {
    return upgradeResults(JSON.parse(text));
  } catch (error) {
    throw new UserInputError(`${path} is not a study's results.json (${(error as Error).message})`, 'render');
  }
}

/** The committed results of each run that has any. */
async function committedRuns(): Promise<Partial<Record<StudyRun, StudyResults>>> {
  const runs: Partial<Record<StudyRun, StudyResults>> = {};
  for (const run of STUDY_RUNS) {
    const path = join(RUN_DIRS[run], 'results.json');
    const exists = await access(path).then(
      () => true,
      () => false,
    );
    if (exists) runs[run] = await readResults(path);
  }
  return runs;
}

const program = new Command('study')
  .description('Transfer study in miniature: real fine-tunes, real ESMs, regret of ESM-LogME and baselines; the pretrained run, or the random-weight control')
  .option('--control', 'run the control (random-weight tiny-bert, synthetic tasks) instead of the pretrained run (wordnet-bert, WordNet tasks)')
  .option('--smoke', 'the whole pipeline on 3 sources and 2 targets of a few dozen examples (about a minute)')
  .option('--seed <n>', 'seed of the task family and every stage', nonNegativeInteger)
  .option('--repeats <n>', 'target-stage fine-tunes per pair, with different seeds', positiveInteger)
  .option('--processes <n>', 'processes the ground-truth fine-tunes are shared out to (default: the cores); the results are the same', positiveInteger)
  .option('--out <dir>', 'where the artefacts go (default study/pretrained/ or study/control/, study-smoke/ with --smoke); the doc is then left alone')
  .option('--no-doc', `leave the study's section of ${STUDY_DOC.slice(PACKAGE_ROOT.length)} and the README's summary alone (always so with --smoke)`)
  .option('--keep-work', 'keep the temporary data dir (registry, jobs, checkpoints)')
  .option('--render', "only write both runs' tables, plots and the doc's section again from their results.json")
  .exitOverride();

try {
  program.parse(process.argv);
  const flags = program.opts<Flags>();
  if (flags.render) {
    const runs = await committedRuns();
    for (const run of STUDY_RUNS) if (runs[run]) await writeReport(runs[run], RUN_DIRS[run]);
    if (flags.doc) {
      await writeStudyDoc(STUDY_DOC, runs, RUN_DIRS);
      await writeStudySummary(README, runs, STUDY_DOC);
    }
  } else {
    const run: StudyRun = flags.control ? 'control' : 'pretrained';
    const smoke = flags.smoke ?? false;
    const preset = (smoke ? SMOKE_STUDIES : STUDIES)[run];
    const config = {
      ...preset,
      family: { ...preset.family, seed: flags.seed ?? preset.family.seed },
      repeats: flags.repeats ?? preset.repeats,
    } as typeof preset;
    const results = await runStudy({
      config,
      smoke,
      out: flags.out ?? (smoke ? join(PACKAGE_ROOT, 'study-smoke') : RUN_DIRS[run]),
      processes: flags.processes ?? availableParallelism(),
      keepWork: flags.keepWork,
    });
    // The doc links to the runs' own folders: a run written elsewhere (--out) leaves it alone.
    if (flags.doc && !smoke && !flags.out) {
      const runs = { ...(await committedRuns()), [run]: results };
      await writeStudyDoc(STUDY_DOC, runs, RUN_DIRS);
      await writeStudySummary(README, runs, STUDY_DOC);
    }
  }
} catch (error) {
  if (error instanceof CommanderError) process.exitCode = error.exitCode;
  else reportError(error);
}
