import { basename, join, resolve } from 'node:path';
import { dataDir } from '../config.js';
import { newJobId, runFinetune, type FinetuneEvent, type FinetuneResult, type FinetuneRunOptions, type FinetuneSpec, type JobStatus, type JobStep } from './job.js';
import type { EpochResult, StageName, StepProgress } from './trainer.js';

/** What `GET /v1/finetunes/{id}` returns: the job's state, as JSON. */
export interface FinetuneJobSnapshot {
  readonly id: string;
  readonly outputDir: string;
  readonly status: JobStatus;
  /** The step running now (or last), null before the first. */
  readonly current: JobStep | null;
  readonly lastStep: StepProgress | null;
  readonly epochs: readonly (EpochResult & { readonly stage: StageName })[];
  readonly restored: readonly JobStep[];
  readonly result: FinetuneResult | null;
  readonly error: string | null;
}

/** Every event of the run, then one `status` event when it ends: what an SSE stream sends. */
export type FinetuneJobEvent = FinetuneEvent | { readonly type: 'status'; readonly status: JobStatus; readonly error?: string };

/**
 * A fine-tune running in the background of a long-lived process (the HTTP server): its state for
 * polling, its events for streaming, and cancellation. The run itself is `runFinetune`, so a
 * cancelled or crashed job resumes by starting a new FinetuneJob with the same spec and output folder.
 */
export class FinetuneJob {
  readonly id: string;
  readonly outputDir: string;
  readonly done: Promise<FinetuneResult>;
  private status: JobStatus = 'running';
  private current: JobStep | null = null;
  private lastStep: StepProgress | null = null;
  private readonly epochs: (EpochResult & { stage: StageName })[] = [];
  private readonly restored: JobStep[] = [];
  private result: FinetuneResult | null = null;
  private error: string | null = null;
  private readonly listeners = new Set<(event: FinetuneJobEvent) => void>();
  private readonly controller = new AbortController();

  constructor(spec: FinetuneSpec, options: Pick<FinetuneRunOptions, 'registerEsm'> = {}) {
    this.outputDir = resolve(spec.outputDir ?? join(dataDir(), 'finetunes', newJobId()));
    this.id = basename(this.outputDir);
    this.done = runFinetune({ ...spec, outputDir: this.outputDir }, { ...options, signal: this.controller.signal, onEvent: (event) => this.record(event) }).then(
      (result) => {
        this.result = result;
        this.finish('completed');
        return result;
      },
      (error: unknown) => {
        this.error = error instanceof Error ? error.message : String(error);
        this.finish(this.controller.signal.aborted ? 'cancelled' : 'failed');
        throw error;
      },
    );
    // Callers that only poll must not see an unhandled rejection; `done` still rejects for those who await it.
    this.done.catch(() => {});
  }

  private record(event: FinetuneEvent): void {
    if (event.type === 'stage') {
      this.current = event.stage;
      if (event.status === 'restored') this.restored.push(event.stage);
    } else if (event.type === 'step') this.lastStep = event;
    else if (event.type === 'epoch') this.epochs.push(event);
    this.broadcast(event);
  }

  private finish(status: JobStatus): void {
    this.status = status;
    this.broadcast(this.error ? { type: 'status', status, error: this.error } : { type: 'status', status });
    this.listeners.clear();
  }

  private broadcast(event: FinetuneJobEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  /** Calls `listener` with every later event; returns the unsubscribe function. */
  subscribe(listener: (event: FinetuneJobEvent) => void): () => void {
    if (this.status === 'running') this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops the run at the next micro-batch; job.json records it as cancelled, and it can be resumed. */
  cancel(): void {
    this.controller.abort();
  }

  snapshot(): FinetuneJobSnapshot {
    return {
      id: this.id,
      outputDir: this.outputDir,
      status: this.status,
      current: this.current,
      lastStep: this.lastStep,
      epochs: [...this.epochs],
      restored: [...this.restored],
      result: this.result,
      error: this.error,
    };
  }
}
