import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ServerContext } from '../context.js';
import { type Handler, handler } from './handler.js';
import { openApiYaml } from './openapi.js';
import { docsAsset, docsPage, openapiDocument } from './routes.js';

/** Swagger UI's files, served from the installed package: the docs page needs no network. */
const SWAGGER_UI_DIR = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const CONTENT_TYPES: Record<string, string> = { '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>esmselect API</title>
  <link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui-bundle.js"></script>
  <script src="docs/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({ url: 'openapi.yaml', dom_id: '#swagger-ui', presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: 'StandaloneLayout' });
  </script>
</body>
</html>
`;

export function docsHandlers(_ctx: ServerContext): Handler[] {
  const yaml = openApiYaml();
  return [
    handler(openapiDocument, (_, c) => c.body(yaml, 200, { 'content-type': 'application/yaml; charset=utf-8' })),
    handler(docsPage, (_, c) => c.html(PAGE)),
    handler(docsAsset, async ({ params }, c) => {
      const file = await readFile(join(SWAGGER_UI_DIR, params.asset));
      return c.body(new Uint8Array(file), 200, {
        'content-type': CONTENT_TYPES[params.asset.slice(params.asset.lastIndexOf('.'))],
        'cache-control': 'public, max-age=86400',
      });
    }),
  ];
}
