// Builds the native ESM-LogME addon (build/Release/esmselect_native.node) with node-gyp; run by
// `npm ci` / `npm install` (the package's install script) and by `npm run build:native`.
// It never fails the install: without a compiler, Python or Node's headers, esmselect uses its
// TypeScript scorer, which gives the same results more slowly.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

if (process.env.ESMSELECT_SKIP_NATIVE === '1') {
  console.warn('esmselect: ESMSELECT_SKIP_NATIVE=1, native addon not built; the TypeScript scorer will be used');
  process.exit(0);
}

// npm points at its bundled node-gyp; outside npm, look for it next to this Node.
const nodeGyp =
  process.env.npm_config_node_gyp ?? join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
// Official Node builds and distribution packages ship the headers under <prefix>/include/node; using
// them keeps node-gyp from downloading headers, so the build works offline.
const prefix = dirname(dirname(process.execPath));
const headers = !process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];

const result = existsSync(nodeGyp)
  ? spawnSync(process.execPath, [nodeGyp, 'rebuild', ...headers], { cwd: root, stdio: 'inherit' })
  : { status: null, error: new Error(`node-gyp not found at ${nodeGyp}`) };
if (result.status !== 0) {
  const why = result.error ? result.error.message : `node-gyp exited with ${result.status ?? result.signal}`;
  console.warn(`esmselect: native addon not built (${why}); falling back to the TypeScript scorer`);
}
