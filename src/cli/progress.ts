import cliProgress from 'cli-progress';

export interface ProgressReporter {
  /** `detail`: a short status shown after the counts (e.g. the current loss). */
  update(done: number, total: number, detail?: string): void;
  stop(): void;
}

/**
 * A progress bar with rate and ETA on stderr when it is a terminal; otherwise a plain line at most
 * every few seconds, so logs of unattended runs (CI, nohup) still show progress.
 */
export function createProgress(label: string, unit: string): ProgressReporter {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted}{detail}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    const started = performance.now();
    let running = false;
    return {
      update(done, total, detail) {
        if (!running) bar.start(total, 0, { rate: '0.0', detail: '' });
        running = true;
        bar.setTotal(total);
        bar.update(done, { rate: (done / ((performance.now() - started) / 1000)).toFixed(1), detail: detail ? ` | ${detail}` : '' });
      },
      stop() {
        if (running) bar.stop();
      },
    };
  }
  const started = performance.now();
  let last = started;
  let printed = false;
  const print = (done: number, total: number, now: number, detail: string | undefined) => {
    const rate = done / Math.max((now - started) / 1000, 1e-9);
    const eta = rate > 0 ? (total - done) / rate : Infinity;
    process.stderr.write(
      `${label}: ${done}/${total} ${unit} (${rate.toFixed(1)} ${unit}/s, ETA ${Number.isFinite(eta) ? `${Math.ceil(eta)} s` : '?'}${detail ? `, ${detail}` : ''})\n`,
    );
  };
  let final = false;
  return {
    update(done, total, detail) {
      const now = performance.now();
      if (done >= total) {
        // A closing line only for runs long enough to have shown progress at all.
        if (printed && !final) print(done, total, now, detail);
        final = true;
        return;
      }
      if (now - last < 5000) return;
      last = now;
      printed = true;
      print(done, total, now, detail);
    },
    stop() {},
  };
}
