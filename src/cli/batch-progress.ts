import cliProgress from 'cli-progress';
import type { BatchProgress } from '../batch/progress.js';

export interface BatchProgressDisplay {
  update(progress: BatchProgress): void;
  stop(): void;
}

/** Target × ESM pairs per second and the seconds left at that rate, from this run's pairs only. */
function rateAndEta(progress: BatchProgress, started: number): { rate: number; eta: number } {
  const rate = progress.pairsThisRun / Math.max((performance.now() - started) / 1000, 1e-9);
  return { rate, eta: rate > 0 ? (progress.pairs.total - progress.pairs.done) / rate : Infinity };
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.ceil(seconds);
  const [h, m] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60)];
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/**
 * A batch's progress on stderr: on a terminal, bars for the ESMs (target × ESM pairs, with ESMs/s
 * and ETA), the targets finished and the units; otherwise (CI, nohup) a plain line every
 * `intervalMs`, and one at the end for runs long enough to have shown any.
 */
export function createBatchProgress(intervalMs = 10_000): BatchProgressDisplay {
  const started = performance.now();
  if (process.stderr.isTTY) {
    const bars = new cliProgress.MultiBar(
      { stream: process.stderr, hideCursor: true, clearOnComplete: false, format: '{label} [{bar}] {value}/{total} {unit}{extra}' },
      cliProgress.Presets.shades_classic,
    );
    let shown: { esms: cliProgress.SingleBar; targets: cliProgress.SingleBar; units: cliProgress.SingleBar } | undefined;
    return {
      update(progress) {
        shown ??= {
          esms: bars.create(progress.pairs.total, 0, { label: 'ESMs   ', unit: 'target × ESM', extra: '' }),
          targets: bars.create(progress.targets.total, 0, { label: 'Targets', unit: 'done', extra: '' }),
          units: bars.create(progress.units.total, 0, { label: 'Units  ', unit: '(target, shard)', extra: '' }),
        };
        const { rate, eta } = rateAndEta(progress, started);
        shown.esms.update(progress.pairs.done, { extra: ` | ${rate.toFixed(1)} ESMs/s | ETA ${formatSeconds(eta)}` });
        shown.targets.update(progress.targets.done);
        shown.units.update(progress.units.done);
      },
      stop() {
        if (shown) bars.stop();
      },
    };
  }
  let last = started;
  let printed = false;
  let latest: BatchProgress | undefined;
  const print = (progress: BatchProgress) => {
    const { rate, eta } = rateAndEta(progress, started);
    const { pairs, targets, units } = progress;
    process.stderr.write(
      `esmselect: batch: ${pairs.done}/${pairs.total} target × ESM pairs (${rate.toFixed(1)} ESMs/s, ETA ${formatSeconds(eta)}); targets ${targets.done}/${targets.total} done; units ${units.done}/${units.total}\n`,
    );
    printed = true;
  };
  return {
    update(progress) {
      latest = progress;
      const now = performance.now();
      if (now - last < intervalMs) return;
      last = now;
      print(progress);
    },
    stop() {
      if (printed && latest) print(latest);
    },
  };
}
