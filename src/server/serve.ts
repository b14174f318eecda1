import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { selectScorer } from '../rank/scorers.js';
import { checkRegistry, type DoctorReport, isHealthy } from '../registry/doctor.js';
import { createServerContext, type ServerContext, type ServerOptions } from './context.js';
import { seedDemoPool } from './demo.js';
import { createApp } from './http/app.js';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8080;
/** How long a shutdown waits for running jobs before putting them back in the queue. */
export const DEFAULT_GRACE_MS = 10_000;

export interface StartOptions extends ServerOptions {
  /** Default 127.0.0.1: the service is reachable from this machine only unless asked otherwise. */
  readonly host?: string;
  /** Default 8080; 0 picks a free port. */
  readonly port?: number;
  /** Seed an empty registry with the demo pool (default true). */
  readonly demo?: boolean;
  readonly graceMs?: number;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly context: ServerContext;
  /**
   * Graceful shutdown: stops accepting connections, lets running jobs finish within the grace
   * period (then puts them back in the queue), ends event streams, closes the registry.
   */
  close(): Promise<void>;
}

/** One start-up line: what is wrong with the registry, counted; `esmselect doctor` names each entry. */
function registryProblems(report: DoctorReport): string {
  const leftOver = report.temporary.filter((t) => !t.running).length;
  const problems = [
    report.integrity.join() === 'ok' ? undefined : `database integrity: ${report.integrity.join('; ')}`,
    report.broken.length ? `entries whose file is missing: ${report.broken.length} (refused until deleted or re-imported)` : undefined,
    report.orphans.length ? `orphan weights files: ${report.orphans.length}` : undefined,
    leftOver ? `files left over by crashed writers: ${leftOver}` : undefined,
  ].filter((p) => p !== undefined);
  return `registry check: ${problems.join(', ')}; run \`esmselect doctor\` for details and \`esmselect doctor --cleanup\` to remove left-over files`;
}

/** Starts the HTTP service on @hono/node-server; the registry is checked against its files first. */
export async function startServer(options: StartOptions = {}): Promise<RunningServer> {
  const context = createServerContext(options);
  if (options.demo ?? true) {
    const seeded = await seedDemoPool(context.registry);
    if (seeded) context.log(`the registry was empty: imported the demo pool (${seeded.imported} ESMs, ${seeded.datasets} datasets; see demo/README.md)`);
  }
  const report = await checkRegistry(context.registry, { verifyChecksums: false });
  if (!isHealthy(report)) context.log(registryProblems(report));
  context.log((await selectScorer()).description);
  const app = createApp(context);
  const host = options.host ?? DEFAULT_HOST;
  const server = await new Promise<Server>((resolve, reject) => {
    const started = serve({ fetch: app.fetch, hostname: host, port: options.port ?? DEFAULT_PORT }, () => resolve(started as Server)) as Server;
    started.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  const close = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await context.close(options.graceMs ?? DEFAULT_GRACE_MS);
    server.closeIdleConnections();
    // Whatever is still open after the jobs are done (a stalled client) is cut.
    const timer = setTimeout(() => server.closeAllConnections(), 2000);
    await closed;
    clearTimeout(timer);
  };
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    context,
    close: () => (closing ??= close()),
  };
}

/** SIGTERM and SIGINT shut the server down gracefully; a second signal ends the process at once. */
export function closeOnSignals(server: RunningServer, log: (line: string) => void): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    log(`${signal}: shutting down (running jobs get ${DEFAULT_GRACE_MS / 1000} s to finish, then go back to the queue)`);
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log(`shutdown failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
