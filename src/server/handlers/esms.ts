import { mkdir, realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { z } from 'zod';
import { UserInputError } from '../../errors.js';
import { EsmFormatError, esmFromFiles } from '../../esm/hfselect.js';
import { deleteEsms, registerEsm } from '../../registry/esms.js';
import { importEsmFolders } from '../../registry/import.js';
import { type EsmRecord, getEsm, pageEsms, registrySource } from '../../store/esms.js';
import type { ServerContext } from '../context.js';
import { type Handler, handler } from '../http/handler.js';
import { HttpProblem } from '../http/problem.js';
import { deleteEsm, getEsm as getEsmRoute, listEsms, postEsm } from '../http/routes.js';
import type { Esm, EsmUpload, ImportRequest } from '../http/schemas.js';

/** Where a registered ESM came from, without the server's paths: relative to the data dir when inside it. */
function originOf(ctx: ServerContext, origin: string): string {
  if (!isAbsolute(origin)) return origin;
  const inside = relative(ctx.dataDir, origin);
  return inside.startsWith('..') || isAbsolute(inside) ? `(outside the data dir) ${origin.split(sep).slice(-2).join('/')}` : inside.split(sep).join('/');
}

function esmView(ctx: ServerContext, record: EsmRecord): z.infer<typeof Esm> {
  const { weights_path: _path, origin, training, ...rest } = record;
  return { ...rest, origin: originOf(ctx, origin), training: training as Record<string, unknown> | null };
}

/** A registry lookup whose miss is a 404 naming the id. */
function found<T>(id: number, lookup: () => T): T {
  try {
    return lookup();
  } catch (error) {
    if (error instanceof UserInputError) throw new HttpProblem('not-found', `id: there is no ESM #${id} (${registrySource(id)}) in the registry`, 'id');
    throw error;
  }
}

/**
 * Resolves an import path the client gave relative to the import root. Absolute paths and ".."
 * are refused outright; what is left is resolved with its links, and must still be inside.
 */
async function importPath(ctx: ServerContext, path: string): Promise<{ root: string; target: string }> {
  if (isAbsolute(path) || path.split(/[\\/]/).includes('..') || path.includes('\0')) {
    throw new HttpProblem('invalid-input', 'path: must be relative to the import directory (<data dir>/imports/), without ".."', 'path');
  }
  await mkdir(ctx.importRoot, { recursive: true });
  const root = await realpath(ctx.importRoot);
  const target = await realpath(resolve(root, path)).catch(() => null);
  if (target === null) throw new HttpProblem('invalid-input', `path: ${path} does not exist in the import directory`, 'path');
  if (target !== root && !target.startsWith(root + sep)) throw new HttpProblem('invalid-input', `path: ${path} leads out of the import directory`, 'path');
  return { root, target };
}

async function importFolders(ctx: ServerContext, request: z.infer<typeof ImportRequest>) {
  const { root, target } = await importPath(ctx, request.path);
  const shown = (path: string) => relative(root, path).split(sep).join('/') || '.';
  let summary: Awaited<ReturnType<typeof importEsmFolders>>;
  try {
    summary = await importEsmFolders(ctx.registry, [target], { within: root });
  } catch (error) {
    if (error instanceof UserInputError)
      throw new HttpProblem('invalid-input', `path: no ESM folders (config.json + model.safetensors) under ${request.path}`, 'path');
    throw error;
  }
  return { ...summary, outcomes: summary.outcomes.map((o) => ({ ...o, source: shown(o.source) })) };
}

async function uploadEsm(ctx: ServerContext, form: z.infer<typeof EsmUpload>) {
  let esm: ReturnType<typeof esmFromFiles>;
  try {
    esm = esmFromFiles('upload', await form.config.text(), new Uint8Array(await form.weights.arrayBuffer()));
  } catch (error) {
    if (!(error instanceof EsmFormatError)) throw error;
    // A config problem names its key ("config.json: base_model_name: …"): the field is config.<key>.
    const key = /^config\.json: ([\w.]+):/.exec(error.problem)?.[1];
    const field = error.problem.startsWith('config.json') ? (key ? `config.${key}` : 'config') : 'weights';
    throw new HttpProblem('invalid-input', `${field}: ${error.problem}`, field);
  }
  const outcome = await registerEsm(ctx.registry, esm, { origin: 'upload' });
  return { status: outcome.status, source: esmView(ctx, outcome.record) };
}

export function esmHandlers(ctx: ServerContext): Handler[] {
  return [
    handler(listEsms, ({ query }, c) => {
      const { limit, offset, ...filters } = query;
      const page = pageEsms(ctx.registry, filters, { limit, offset });
      return c.json({ total: page.total, limit, offset, items: page.records.map((r) => esmView(ctx, r)) });
    }),
    handler(postEsm, async ({ body }, c) => {
      if (body.type === 'json') return c.json(await importFolders(ctx, body.value));
      const uploaded = await uploadEsm(ctx, body.value);
      // The ESM under the path asked (`/v1/esms`, or its deprecated alias).
      return uploaded.status === 'imported' ? c.json(uploaded, 201, { location: `${c.req.path}/${uploaded.source.id}` }) : c.json(uploaded, 200);
    }),
    handler(getEsmRoute, ({ params }, c) =>
      c.json(
        esmView(
          ctx,
          found(params.id, () => getEsm(ctx.registry, params.id)),
        ),
      ),
    ),
    handler(deleteEsm, ({ params }, c) => c.json(esmView(ctx, found(params.id, () => deleteEsms(ctx.registry, [params.id]))[0]))),
  ];
}
