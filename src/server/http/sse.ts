import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { JobEvent } from '../../jobs/runner.js';
import { isFinished, type JobKind } from '../../store/jobs.js';
import type { ServerContext } from '../context.js';
import { jobResource, withLinks } from './job-resource.js';
import { withoutServerPaths } from './redact.js';

/** How long an idle event stream waits before a keep-alive comment, so proxies do not close it. */
const KEEP_ALIVE_MS = 15_000;

/**
 * Streams a job's events as Server-Sent Events: the current state first, then, until it ends,
 * its progress (only the newest, for a client that fell behind) and its kind's events (every one,
 * in order), then its end with the job.
 */
export function streamEvents(ctx: ServerContext, kind: JobKind, id: string, c: Context): Response {
  ctx.jobs.get(id, kind);
  return streamSSE(c, async (stream) => {
    const send = (event: string, data: unknown) => stream.writeSSE({ event, data: withoutServerPaths(ctx, JSON.stringify(data)) });
    const pending: JobEvent[] = [];
    let wake: (() => void) | undefined;
    const unsubscribe = ctx.jobs.subscribe(id, (event) => {
      pending.push(event);
      wake?.();
    });
    let closed = false;
    stream.onAbort(() => {
      closed = true;
      wake?.();
    });
    try {
      // Read after subscribing, so an event between the two is not missed.
      const current = jobResource(ctx, ctx.jobs.get(id, kind));
      if (isFinished(current.status)) {
        await send(current.status, current);
        return;
      }
      await send('progress', current.progress);
      while (!closed) {
        if (pending.length === 0) {
          let timer: NodeJS.Timeout | undefined;
          await new Promise<void>((resolve) => {
            wake = resolve;
            timer = setTimeout(resolve, KEEP_ALIVE_MS);
          });
          clearTimeout(timer);
          wake = undefined;
          if (pending.length === 0 && !closed) await stream.write(': keep-alive\n\n');
          continue;
        }
        const events = pending.splice(0);
        const newestProgress = events.findLastIndex((event) => event.type === 'progress');
        for (const [i, event] of events.entries()) {
          if (event.type === 'end') {
            await send(event.job.status, withLinks(event.job, kind));
            return;
          }
          if (event.type === 'closing') {
            await send('closing', { detail: 'the server is shutting down; reconnect to follow the job' });
            return;
          }
          if (event.type === 'event') await send(event.name, event.data);
          else if (i === newestProgress) await send('progress', event.progress);
        }
      }
    } finally {
      unsubscribe();
    }
  });
}
