import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vitest/config';

export default defineConfig({
	plugins: [sveltekit()],
	build: { sourcemap: false, reportCompressedSize: false },
	test: { include: ['tests/**/*.test.ts'], environment: 'node' }
});
