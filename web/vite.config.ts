import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vitest/config';

// `npm run dev` serves the app with hot reload and passes API paths to a running
// Studio (STUDIO_API_URL, default the address `studio up` uses), so the browser sees one
// origin, as in production, and the session cookie and CSRF token work unchanged.
const { env } = (globalThis as unknown as { process: { env: Record<string, string | undefined> } }).process;
const api = env.STUDIO_API_URL ?? 'http://127.0.0.1:8000';
const proxied = ['/v1', '/s/', '/docs', '/docs-assets', '/openapi.json', '/healthz', '/readyz', '/metrics'];

export default defineConfig({
	plugins: [sveltekit()],
	build: { sourcemap: false, reportCompressedSize: false },
	server: { proxy: Object.fromEntries(proxied.map((path) => [path, { target: api, changeOrigin: false }])) },
	test: { include: ['tests/**/*.test.ts'], environment: 'node' }
});
