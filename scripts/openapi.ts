/** Writes openapi.yaml from the route table and schemas (`npm run openapi`); a test checks it is up to date. */
import { writeFileAtomic } from '../src/io/atomic.js';
import { OPENAPI_FILE, openApiYaml } from '../src/server/http/openapi.js';

await writeFileAtomic(OPENAPI_FILE, openApiYaml());
process.stdout.write(`wrote ${OPENAPI_FILE}\n`);
