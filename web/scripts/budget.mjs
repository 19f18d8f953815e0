// What the login and chat pages load, gzipped: SvelteKit's two entries, the root layout
// and the page's node, each with its static imports and CSS, read from Vite's manifest.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const LIMIT_KB = 250;
// Route directory (under src/routes) -> label in the report.
const PAGES = { 'login': '/login', 'chat/[[id]]': '/chat' };

export function budgetReport(out, kit = '.svelte-kit') {
	const manifest = JSON.parse(readFileSync(join(kit, 'output', 'client', '.vite', 'manifest.json'), 'utf8'));
	const nodesDir = join(kit, 'generated', 'client-optimized', 'nodes');
	const nodeOf = {};
	for (const file of readdirSync(nodesDir)) {
		const text = readFileSync(join(nodesDir, file), 'utf8');
		const match = text.match(/src\/routes\/(.*?)\/?\+(page|layout)\.svelte/);
		if (match) nodeOf[`${match[2]}:${match[1]}`] = `.svelte-kit/generated/client-optimized/nodes/${file}`;
	}
	const files = (keys) => {
		const seen = new Set();
		const visit = (key) => {
			const chunk = manifest[key];
			if (!chunk || seen.has(chunk.file)) return;
			seen.add(chunk.file);
			for (const css of chunk.css ?? []) seen.add(css);
			for (const dep of chunk.imports ?? []) visit(dep);
		};
		keys.forEach(visit);
		return [...seen];
	};
	const entries = ['.svelte-kit/generated/client-optimized/app.js', ...Object.keys(manifest).filter((k) => k.includes('@sveltejs/kit/src/runtime/client/entry.js'))];
	const pages = Object.entries(PAGES).map(([dir, route]) => {
		const keys = [...entries, nodeOf['layout:'], nodeOf[`page:${dir}`]];
		if (keys.some((k) => !k)) throw new Error(`budget: no node for ${route} (src/routes/${dir}/+page.svelte)`);
		const list = files(keys);
		const gzip = list.reduce((sum, f) => sum + gzipSync(readFileSync(join(out, f)), { level: 9 }).length, 0);
		return { route, files: list.length, gzip };
	});
	return { limit_kb: LIMIT_KB, pages };
}
