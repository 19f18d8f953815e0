// Generates the app's typed API client types (src/lib/api/schema.d.ts) from Studio's own
// OpenAPI document, read from the Python package without a server. `--check` fails when
// the committed file is stale (run by the test suite), instead of writing it.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';

const web = join(dirname(fileURLToPath(import.meta.url)), '..');
const venvPython = join(web, '..', '.venv', 'bin', 'python');
const python = process.env.STUDIO_PYTHON || (existsSync(venvPython) ? venvPython : 'python3');
const spec = JSON.parse(execFileSync(python, ['-m', 'studio.web.openapi'], { encoding: 'utf8', maxBuffer: 64 << 20 }));
const header = '// Generated from Studio\'s OpenAPI document by scripts/api.mjs (npm run api). Do not edit.\n\n';
const types = header + astToString(await openapiTS(spec, { alphabetize: true }));
const target = join(web, 'src', 'lib', 'api', 'schema.d.ts');

if (process.argv.includes('--check')) {
	const current = existsSync(target) ? readFileSync(target, 'utf8') : '';
	if (current !== types) {
		console.error('web/src/lib/api/schema.d.ts is stale: the API changed. Run `cd web && npm run api` and commit it.');
		process.exit(1);
	}
	console.log('api: the client types match the API');
} else {
	writeFileSync(target, types);
	console.log(`api: wrote ${target.slice(web.length + 1)}`);
}
