import adapter from '@sveltejs/adapter-static';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** Built as a single-page app: the API serves `index.html` for every client-side route
 * (see src/studio/web/ in the Python package), so nothing is rendered on a server. */
export default {
	preprocess: vitePreprocess(),
	compilerOptions: { runes: true },
	kit: {
		adapter: adapter({
			pages: '../src/studio/web/app',
			assets: '../src/studio/web/app',
			fallback: 'index.html',
			strict: true
		}),
		// Hashed files under /_app/immutable/ get a year of caching; index.html none.
		appDir: '_app',
		output: { bundleStrategy: 'split' },
		// A fixed name keeps the build deterministic (the budget is read from it).
		version: { name: 'studio', pollInterval: 0 }
	}
};
