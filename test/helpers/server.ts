import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { WorkerPool } from '../../src/jobs/worker-pool.js';
import { createServerContext, type ServerContext, type ServerOptions } from '../../src/server/context.js';
import { type DemoPool, seedDemoPool } from '../../src/server/demo.js';
import { createApp } from '../../src/server/http/app.js';

export interface TestServer {
  readonly context: ServerContext;
  readonly app: ReturnType<typeof createApp>;
  /** Everything the server logged. */
  readonly logs: string[];
}

/** The worker threads of every test server of a test file: a thread started from TypeScript takes seconds to load. */
let workers: WorkerPool | undefined;

/** The tiny-bert demo pool the server tests rank against (test/fixtures/demo-tiny-bert/README.md). */
export const TINY_BERT_DEMO_DIR = fileURLToPath(new URL('../fixtures/demo-tiny-bert/', import.meta.url));
export const TINY_BERT_DEMO: DemoPool = { esms: join(TINY_BERT_DEMO_DIR, 'esms'), datasets: join(TINY_BERT_DEMO_DIR, 'datasets') };

/** An app on a fresh data dir holding the tiny-bert demo pool (12 ESMs of dimension 32, base model tiny-bert). */
export async function testServer(options: ServerOptions & { demo?: boolean } = {}): Promise<TestServer> {
  const logs: string[] = [];
  workers ??= new WorkerPool();
  const context = createServerContext({
    dataDir: options.dataDir ?? mkdtempSync(join(tmpdir(), 'esmselect-server-')),
    log: (line) => logs.push(line),
    workers,
    ...options,
  });
  if (options.demo ?? true) await seedDemoPool(context.registry, TINY_BERT_DEMO);
  return { context, app: createApp(context), logs };
}

export function json(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

/** A small target as inline texts and labels. */
export const DEMO_TEXTS = {
  texts: [
    'great phone love the quality',
    'awful price worst product',
    'excellent review happy buy',
    'disappointing quality hate it',
    'love this phone',
    'worst buy ever',
  ],
  labels: ['good', 'bad', 'good', 'bad', 'good', 'bad'],
};

/** Reads a Server-Sent Events stream to its end: each event's name and parsed data. */
export async function readEvents(response: Response): Promise<{ event: string; data: any }[]> {
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((block) => block.includes('data:'))
    .map((block) => {
      const lines = block.split('\n');
      const event =
        lines
          .find((l) => l.startsWith('event:'))
          ?.slice(6)
          .trim() ?? 'message';
      const data = lines
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trim())
        .join('\n');
      return { event, data: JSON.parse(data) };
    });
}

/** An RFC 9457 problem document as the service answers it. */
export interface ProblemDocument {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly field?: string;
}

/** The problem document of a response, after checking that it is one. */
export function problemOf(response: Response): Promise<ProblemDocument> {
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  return response.json() as Promise<ProblemDocument>;
}
