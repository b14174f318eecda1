import { join } from 'node:path';
import { Command } from 'commander';
import { type BatchEvent, batchRank } from '../batch/batch.js';
import { DEFAULT_SUMMARY_TOP } from '../batch/outputs.js';
import { DEFAULT_SHARD_SIZE } from '../batch/plan.js';
import { selectScorer } from '../rank/scorers.js';
import { openRegistry } from '../store/database.js';
import { createBatchProgress } from './batch-progress.js';
import { positiveInteger } from './errors.js';
import { addEsmFilterOptions, type EsmFilterFlags, esmFilterFrom, registrySelected } from './esm-filter.js';
import { createProgress, type ProgressReporter } from './progress.js';

interface BatchFlags extends EsmFilterFlags {
  targets: string;
  esms: string[];
  out: string;
  shardSize: number;
  top: number;
  restart?: boolean;
  queue?: string;
}

const ORIGIN = { file: 'read from file', cache: 'embeddings from the cache', model: 'embedded' } as const;

/** Exit status after Ctrl-C (128 + SIGINT), as shells report it. */
const EXIT_INTERRUPTED = 130;

/**
 * Aborts on the first SIGINT/SIGTERM (the batch stops after the unit in hand, its checkpoints kept);
 * a second one exits at once. Returns a function that removes the handlers.
 */
function abortOnSignals(controller: AbortController): () => void {
  const stop = () => {
    if (controller.signal.aborted) process.exit(EXIT_INTERRUPTED);
    controller.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  };
}

export function batchCommand(): Command {
  const command = new Command('batch-rank')
    .description('rank a whole ESM pool for every target of a manifest; resumable, locally or on BullMQ workers (--queue)')
    .requiredOption('--targets <manifest>', 'target datasets: YAML (.yaml/.yml) or JSON Lines (.jsonl); see the README, "Batch ranking"')
    .requiredOption('--esms <dir...>', 'ESM folders, directories searched for them, or "registry" for the registered ESMs')
    .requiredOption('--out <dir>', 'output directory: rankings/, summary.csv, summary-scores.csv, report.html, batch.json')
    .option('--shard-size <n>', 'ESMs per shard: a unit of work and of checkpointing is (target, shard)', positiveInteger, DEFAULT_SHARD_SIZE)
    .option('--top <k>', 'sources per target in the summary and the report', positiveInteger, DEFAULT_SUMMARY_TOP)
    .option('--restart', "discard the output directory's checkpoints and start over (needed after the targets or the pool changed)")
    .option('--queue <url>', 'redis://HOST:PORT: hand the units to `esmselect worker`s through BullMQ instead of computing them here')
    .action(async (flags: BatchFlags) => {
      const registry = openRegistry();
      const controller = new AbortController();
      const removeHandlers = abortOnSignals(controller);
      const log = (line: string) => process.stderr.write(`esmselect: ${line}\n`);
      const progress = createBatchProgress();
      let embedding: { target: string; reporter: ProgressReporter } | undefined;
      let checkpointed = { done: 0, total: 0 };
      let description = '';
      const onEvent = (event: BatchEvent) => {
        switch (event.type) {
          case 'embedding':
            if (embedding?.target !== event.target) {
              embedding?.reporter.stop();
              embedding = { target: event.target, reporter: createProgress(`Embedding ${event.target}`, 'texts') };
            }
            embedding.reporter.update(event.done, event.total);
            return;
          case 'target':
            embedding?.reporter.stop();
            embedding = undefined;
            log(`target ${event.target}: ${event.rows} × ${event.dim}, ${event.task}, ${ORIGIN[event.origin]}`);
            return;
          case 'plan': {
            const { units } = event.progress;
            checkpointed = units;
            const state = units.done === 0 ? 'starting' : units.done === units.total ? 'every unit is checkpointed' : `${units.done} checkpointed, resuming`;
            log(
              `plan ${event.fingerprint.slice(0, 12)}: ${event.targets} targets × ${event.esms} ESMs in ${event.shards} shards = ${units.total} units; ${state}`,
            );
            // After the plan, so that bad input still gets exactly one line.
            if (!flags.queue && units.done < units.total) log(description);
            return;
          }
          case 'queued':
            log(`queued ${event.added} jobs on ${flags.queue} (${event.waiting} to collect); workers: esmselect worker --queue ${flags.queue}`);
            return;
          case 'progress':
            checkpointed = event.progress.units;
            progress.update(event.progress);
            return;
          case 'duplicate':
            log(`unit ${event.target}/${event.shard} from ${event.worker} was already checkpointed; ignored`);
            return;
        }
      };
      try {
        const useRegistry = registrySelected(flags.esms, flags);
        const selected = await selectScorer();
        description = selected.description;
        const started = performance.now();
        const result = await batchRank({
          targets: flags.targets,
          esms: useRegistry ? { registry: esmFilterFrom(flags) } : { folders: flags.esms },
          out: flags.out,
          registry,
          scorer: selected.scorer,
          shardSize: flags.shardSize,
          top: flags.top,
          restart: flags.restart,
          queue: flags.queue,
          signal: controller.signal,
          onEvent,
        });
        progress.stop();
        const seconds = (performance.now() - started) / 1000;
        log(
          `computed ${result.computed} of ${result.units} units (${result.pairs} target × ESM pairs) in ${seconds.toFixed(1)} s${result.pairs ? ` (${(result.pairs / seconds).toFixed(1)} ESMs/s)` : ''}`,
        );
        log(`wrote ${result.files.length} files to ${result.outDir}; report: ${join(result.outDir, 'report.html')}`);
      } catch (error) {
        progress.stop();
        if (!controller.signal.aborted) throw error;
        log(`interrupted: ${checkpointed.done} of ${checkpointed.total} units are checkpointed; run the same command to continue`);
        process.exitCode = EXIT_INTERRUPTED;
      } finally {
        embedding?.reporter.stop();
        removeHandlers();
        registry.close();
      }
    });
  return addEsmFilterOptions(command);
}
