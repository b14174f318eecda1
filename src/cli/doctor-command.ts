import { Command, Option } from 'commander';
import { checkRegistry, type DoctorReport, isHealthy } from '../registry/doctor.js';
import { openRegistry } from '../store/database.js';
import { createProgress } from './progress.js';

/** doctor's exit status when it finds problems (0: healthy; 1 and 2 keep their usual meaning). */
export const EXIT_PROBLEMS = 3;

function describe(report: DoctorReport, cleanup: boolean): string[] {
  const { counts } = report;
  const lines = [
    `registry ${report.registry}: schema v${report.schemaVersion}, integrity ${report.integrity.join('; ')}`,
    `${counts.esms} ESMs, ${counts.datasets} datasets, ${counts.embeddingCacheEntries} embedding-cache entries, ${counts.rankingRuns} ranking runs`,
  ];
  for (const b of report.broken) lines.push(`broken ${b.entry}: ${b.problem} (refused until deleted or re-imported)`);
  const hint = cleanup ? '' : '; doctor --cleanup removes it';
  for (const o of report.orphans) lines.push(`orphan ${o}: no registry row points at it${hint}`);
  for (const t of report.temporary) {
    lines.push(t.running ? `in progress ${t.path}: process ${t.pid} is writing it` : `left over ${t.path}: process ${t.pid} died while writing it${hint}`);
  }
  for (const r of report.removed) lines.push(`removed ${r}`);
  lines.push(isHealthy(report) ? 'healthy' : 'problems found');
  return lines;
}

export function doctorCommand(): Command {
  return new Command('doctor')
    .description(`check the registry against its files: missing or corrupt weights, orphan and left-over files (exit ${EXIT_PROBLEMS} when there are problems)`)
    .option('--cleanup', 'remove orphan weights files and files left by crashed writers')
    .option('--quick', 'check that files exist, without hashing them')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (flags: { cleanup?: boolean; quick?: boolean; format: 'text' | 'json' }) => {
      const registry = openRegistry();
      const progress = createProgress('Verifying checksums', 'files');
      try {
        const report = await checkRegistry(registry, {
          cleanup: flags.cleanup,
          verifyChecksums: !flags.quick,
          onProgress: ({ done, total }) => progress.update(done, total),
        });
        progress.stop();
        process.stdout.write(flags.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : `${describe(report, flags.cleanup ?? false).join('\n')}\n`);
        if (!isHealthy(report)) process.exitCode = EXIT_PROBLEMS;
      } finally {
        progress.stop();
        registry.close();
      }
    });
}
