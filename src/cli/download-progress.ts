import { createProgress, type ProgressReporter } from './progress.js';

/** A progress bar per file downloaded from the Hub, in kilobytes; `stop` ends the current one. */
export function downloadProgress(): { onProgress: (progress: { file: string; done: number; total: number }) => void; stop: () => void } {
  let bar: ProgressReporter | null = null;
  let current = '';
  const stop = () => {
    bar?.stop();
    bar = null;
  };
  return {
    stop,
    onProgress({ file, done, total }) {
      if (file !== current) {
        stop();
        bar = createProgress(`Downloading ${file}`, 'KB');
        current = file;
      }
      bar!.update(Math.round(done / 1024), Math.max(1, Math.round(total / 1024)));
    },
  };
}
