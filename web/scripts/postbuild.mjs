// After `vite build`: make the output servable under a strict Content-Security-Policy,
// add the offline API docs, and check the size budget.
//
// 1. SvelteKit's index.html starts the app with an inline <script>. The API serves the
//    app with `script-src 'self'` (no inline script at all), so the script moves into a
//    content-hashed file; it relies on document.currentScript, which a classic external
//    script has too.
//    SvelteKit's route announcer (the element that tells screen readers a new page
//    has loaded) carries a fixed style attribute, which `style-src 'self'` would
//    refuse after every navigation. Its hash goes to csp.json, and the API allows that
//    one attribute value ('unsafe-hashes' with its sha256) and no other inline style.
// 2. Swagger UI, from the swagger-ui-dist package, goes to docs-assets/ with a small
//    init file, so /docs works without internet.
// 3. The JavaScript and CSS the login and chat pages load stay under the budget.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { budgetReport } from './budget.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', '..', 'src', 'studio', 'web', 'app');

// 1. The bootstrap script.
const indexPath = join(out, 'index.html');
let html = readFileSync(indexPath, 'utf8');
const inline = /<script>([\s\S]*?)<\/script>/g;
const scripts = [...html.matchAll(inline)];
if (scripts.length !== 1) throw new Error(`expected one inline script in index.html, found ${scripts.length}`);
const body = scripts[0][1].trim() + '\n';
const name = `boot.${createHash('sha256').update(body).digest('hex').slice(0, 12)}.js`;
writeFileSync(join(out, '_app', 'immutable', name), body);
html = html.replace(scripts[0][0], `<script src="/_app/immutable/${name}"></script>`);
if (/<script>/.test(html) || /\sstyle=/.test(html)) throw new Error('index.html still has inline script or style');
writeFileSync(indexPath, html);

// 1b. The route announcer's style attribute.
const entry = join(out, '_app', 'immutable', 'entry');
const announcer = /id="svelte-announcer"[^>]*?\sstyle="([^"]*)"/g;
const styles = new Set();
for (const file of readdirSync(entry).filter((f) => f.endsWith('.js'))) {
	for (const match of readFileSync(join(entry, file), 'utf8').matchAll(announcer)) styles.add(match[1]);
}
if (styles.size !== 1) throw new Error(`expected SvelteKit's route announcer with one style attribute, found ${styles.size}`);
const styleHashes = [...styles].map((style) => `sha256-${createHash('sha256').update(style).digest('base64')}`);
writeFileSync(join(out, 'csp.json'), JSON.stringify({ style_attribute_hashes: styleHashes }, null, 2) + '\n');

// 2. Offline API docs.
const swagger = join(here, '..', 'node_modules', 'swagger-ui-dist');
const docs = join(out, 'docs-assets');
mkdirSync(docs, { recursive: true });
for (const file of ['swagger-ui.css', 'swagger-ui-bundle.js']) copyFileSync(join(swagger, file), join(docs, file));
writeFileSync(
	join(docs, 'swagger-init.js'),
	// validatorUrl: null, or Swagger UI asks its public online validator about the document.
	// deepLinking: false, or each operation's path is a link inside its toggle button
	// (nested controls, which screen readers cannot use).
	"window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: false, validatorUrl: null });\n"
);
// Swagger UI's white-on-colour badges and light link blue fall short of WCAG AA
// contrast (4.5:1); these rules darken them and change nothing else.
writeFileSync(
	join(docs, 'studio-docs.css'),
	[
		'.swagger-ui .opblock .opblock-summary-method { color: #111; text-shadow: none; }',
		'.swagger-ui .info .title small { background: #565c68; }',
		'.swagger-ui .info .title small.version-stamp { background: #4a7500; }',
		'.swagger-ui .info .url, .swagger-ui .info a, .swagger-ui .info .link { color: #1f5fae; }',
		'.swagger-ui .json-schema-2020-12-expand-deep-button { color: #595959; }',
		''
	].join('\n')
);

// 3. The budget.
let report;
try {
	report = budgetReport(out);
} catch (e) {
	console.error(e instanceof Error ? e.message : String(e));
	process.exit(1);
}
writeFileSync(join(out, 'budget.json'), JSON.stringify(report, null, 2) + '\n');
for (const page of report.pages) {
	console.log(`budget: ${page.route}: ${(page.gzip / 1024).toFixed(1)} KB gzipped (${page.files} files), limit ${report.limit_kb} KB`);
}
const over = report.pages.filter((p) => p.gzip > report.limit_kb * 1024);
if (over.length) {
	console.error(`budget: over ${report.limit_kb} KB gzipped: ${over.map((p) => p.route).join(', ')}`);
	process.exit(1);
}
