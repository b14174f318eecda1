import { Command, Option } from 'commander';
import { UserInputError } from '../errors.js';
import type { HubFetchOptions } from '../hub/fetch.js';
import { getEsmCoverage, searchEsms } from '../hub/search.js';
import { DEFAULT_CONCURRENCY, type PullOptions, type PullOutcome, type PullSummary, pullEsms } from '../registry/pull.js';
import { pushEsm } from '../registry/push.js';
import { openRegistry, type Registry } from '../store/database.js';
import { positiveInteger } from './errors.js';
import { textTable } from './format.js';
import { createProgress } from './progress.js';

/**
 * The ESM commands that talk to the Hugging Face Hub (HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE):
 * `esm search`, `esm coverage`, `esm pull`, `esm push`.
 */

/** Opens the registry for one command (esm-command.ts has the same; that module adds these commands). */
async function withRegistry<T>(work: (registry: Registry) => Promise<T>): Promise<T> {
  const registry = openRegistry();
  try {
    return await work(registry);
  } finally {
    registry.close();
  }
}

function registryId(value: string): number {
  const id = Number(value.replace(/^(registry)?#/, ''));
  if (!Number.isSafeInteger(id) || id <= 0) throw new UserInputError(`esm: "${value}" is not an ESM id (a positive integer, as esm list shows)`, 'esm');
  return id;
}

/** One line on stderr per retried request, so a slow pull says why. */
export const reportRetry: HubFetchOptions['onRetry'] = ({ status, attempt, delayMs }) =>
  process.stderr.write(
    `esmselect: the Hub answered ${status ?? 'with a network error'}; retrying in ${(delayMs / 1000).toFixed(1)} s (attempt ${attempt + 1})\n`,
  );

/** Pulls with a progress bar; returns the summary after printing nothing (callers say what they need). */
export async function pullWithProgress(registry: Registry, options: PullOptions): Promise<PullSummary> {
  const progress = createProgress('Pulling ESMs', 'repos');
  try {
    return await pullEsms(registry, {
      ...options,
      onRetry: reportRetry,
      onProgress: ({ stage, done, total }) => stage === 'pulling' && progress.update(done, total),
    });
  } finally {
    progress.stop();
  }
}

/** The rejected and failed repos, one line each, and one line of counts, as `esm import` reports. */
export function pullSummaryLines(summary: PullSummary, verbose = false): string[] {
  const shown = (o: PullOutcome) => o.status === 'rejected' || o.status === 'failed' || (verbose && o.status !== 'imported');
  const lines = summary.outcomes
    .filter(shown)
    .map(
      (o) =>
        `${o.status} ${o.repo}${o.commit ? `@${o.commit.slice(0, 12)}` : ''}: ${o.reason ?? (o.status === 'unchanged' ? `same commit as the last pull (#${o.id})` : '')}`,
    );
  const failed = summary.failed ? `, failed ${summary.failed} (pull again to retry)` : '';
  lines.push(
    `${summary.baseModel ? `${summary.baseModel}: ` : ''}${summary.repos} repos: imported ${summary.imported}, skipped ${summary.skipped} (already registered), unchanged ${summary.unchanged} (same commit as the last pull), rejected ${summary.rejected}${failed}`,
  );
  return lines;
}

function searchCommand(): Command {
  return new Command('search')
    .description("list the ESMs published on the Hub (tagged embedding_space_map) without downloading them, as hfselect's find_esm_repo_ids finds them")
    .option('--base-model <name>', 'only ESMs of this base model (e.g. bert-base-uncased; renamed models are followed)')
    .option('--task <text>', 'only ESMs whose repo id or task id contains this text (case-insensitive)')
    .option('--language <code>', "only ESMs whose source task is in this language (reads each candidate's config.json)")
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action(async (flags: { baseModel?: string; task?: string; language?: string; format: 'table' | 'json' }) => {
      const found = await searchEsms({ baseModel: flags.baseModel, task: flags.task, language: flags.language });
      if (flags.format === 'json') {
        process.stdout.write(`${JSON.stringify(found, null, 2)}\n`);
        return;
      }
      const headers = ['Repo', 'Task ID', 'Base model', ...(flags.language === undefined ? [] : ['Language']), 'Downloads', 'Likes', 'Updated'];
      const rows = found.map((e) => [
        e.repo_id,
        e.task_id ?? '',
        e.base_model ?? '',
        ...(flags.language === undefined ? [] : [e.language ?? '']),
        String(e.downloads),
        String(e.likes),
        e.updated_at?.slice(0, 10) ?? '',
      ]);
      const numeric = new Set([headers.indexOf('Downloads'), headers.indexOf('Likes')]);
      process.stdout.write(`${textTable(headers, rows, (i) => numeric.has(i))}\n`);
      process.stderr.write(`esmselect: ${found.length} ESMs on the Hub\n`);
    });
}

function coverageCommand(): Command {
  return new Command('coverage')
    .description("how many ESMs the Hub has per base model (hfselect's get_esm_coverage)")
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action(async (flags: { format: 'table' | 'json' }) => {
      const coverage = await getEsmCoverage();
      if (flags.format === 'json') {
        process.stdout.write(`${JSON.stringify(coverage, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        `${textTable(
          ['Base model', 'ESMs'],
          coverage.map((c) => [c.baseModel ?? '(none named)', String(c.esms)]),
          (i) => i === 1,
        )}\n`,
      );
    });
}

function pullCommand(): Command {
  return new Command('pull')
    .description(
      'download ESMs from the Hub into the registry: every ESM of a base model (or all), or named repos; a rerun downloads only new or changed repos',
    )
    .option('--base-model <name>', 'the ESMs of this base model (e.g. bert-base-uncased; renamed models are followed)')
    .option('--repo <id...>', 'exactly these repos (instead of --base-model/--task)')
    .option('--task <text>', 'only ESMs whose repo id or task id contains this text (case-insensitive)')
    .option('--revision <rev>', 'a branch, tag or commit to read each repo at (default: the head of main)')
    .option('--concurrency <n>', `repos downloaded at once (default ${DEFAULT_CONCURRENCY})`, positiveInteger)
    .option('--verbose', 'list every repo, not only the rejected and failed ones')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(
      (flags: { baseModel?: string; repo?: string[]; task?: string; revision?: string; concurrency?: number; verbose?: boolean; format: 'text' | 'json' }) =>
        withRegistry(async (registry) => {
          const summary = await pullWithProgress(registry, {
            baseModel: flags.baseModel,
            repos: flags.repo,
            task: flags.task,
            revision: flags.revision,
            concurrency: flags.concurrency,
          });
          if (flags.format === 'json') process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
          else for (const line of pullSummaryLines(summary, flags.verbose)) process.stdout.write(`${line}\n`);
        }),
    );
}

function pushCommand(): Command {
  return new Command('push')
    .description(
      "publish a registered ESM on the Hub as hfselect's ESM.publish does (config.json, model.safetensors, a model card tagged embedding_space_map); needs HF_TOKEN with write access",
    )
    .argument('<id>', 'registry id')
    .requiredOption('--repo <owner/name>', 'the repo to create (or update): your user name or one of your organisations')
    .option('--private', 'create the repo private')
    .action((id: string, flags: { repo: string; private?: boolean }) =>
      withRegistry(async (registry) => {
        const pushed = await pushEsm(registry, registryId(id), { repo: flags.repo, private: flags.private });
        process.stdout.write(`pushed #${registryId(id)} to ${pushed.url} (${pushed.created ? 'new repo' : 'updated'}, commit ${pushed.commit.slice(0, 12)})\n`);
      }),
    );
}

export function hubEsmCommands(): Command[] {
  return [searchCommand(), coverageCommand(), pullCommand(), pushCommand()];
}
