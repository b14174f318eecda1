import { Command } from 'commander';
import { limitsFromEnv } from '../server/context.js';
import { closeOnSignals, DEFAULT_HOST, DEFAULT_PORT, startServer } from '../server/serve.js';
import { nonNegativeInteger } from './errors.js';

/** `esmselect serve`: the HTTP service on the embedded defaults (registry in the data dir, models from models/). */
export function serveCommand(): Command {
  return new Command('serve')
    .description('start the HTTP service (OpenAPI at /openapi.yaml, docs at /docs)')
    .option('--host <host>', `address to listen on (ESMSELECT_HOST, default ${DEFAULT_HOST})`, process.env.ESMSELECT_HOST ?? DEFAULT_HOST)
    .option(
      '--port <port>',
      `port, 0 for any free one (ESMSELECT_PORT, default ${DEFAULT_PORT})`,
      nonNegativeInteger,
      Number(process.env.ESMSELECT_PORT ?? DEFAULT_PORT),
    )
    .option('--no-demo', 'do not seed an empty registry with the demo pool (or ESMSELECT_NO_DEMO=1)')
    .action(async (flags: { host: string; port: number; demo: boolean }) => {
      const log = (line: string) => process.stderr.write(`esmselect: ${line}\n`);
      const server = await startServer({
        host: flags.host,
        port: flags.port,
        demo: flags.demo && process.env.ESMSELECT_NO_DEMO !== '1',
        token: process.env.ESMSELECT_API_TOKEN,
        limits: limitsFromEnv(),
        log,
      });
      closeOnSignals(server, log);
      const { context } = server;
      log(
        `serving ${server.url} (docs ${server.url}/docs), data ${context.dataDir}, models ${context.modelsDir}${context.token ? ', bearer token required' : ''}`,
      );
    });
}
