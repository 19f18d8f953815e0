import { describe, expect, it } from 'vitest';
import { refuseBeforeUpload, runLimited } from '../src/lib/datasets';

describe('runLimited', () => {
	it('runs every item, never more than the limit at once, and goes on after a failure', async () => {
		let running = 0;
		let most = 0;
		const done: number[] = [];
		await runLimited([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
			running++;
			most = Math.max(most, running);
			await new Promise((resolve) => setTimeout(resolve, (7 - n) * 2));
			running--;
			if (n === 2) throw new Error('refused');
			done.push(n);
		});
		expect(most).toBe(3);
		expect(done.sort()).toEqual([1, 3, 4, 5, 6, 7]);
	});

	it('starts nothing for no items', async () => {
		let calls = 0;
		await runLimited([], 3, async () => void calls++);
		expect(calls).toBe(0);
	});
});

describe('refuseBeforeUpload', () => {
	const file = (name: string, type: string, size = 10) => new File([new Uint8Array(size)], name, { type });

	it('lets PNG, JPEG and WebP through', () => {
		for (const type of ['image/png', 'image/jpeg', 'image/webp']) expect(refuseBeforeUpload(file('a', type), null)).toBeNull();
	});

	it('names a file of another type, or one over the limit', () => {
		expect(refuseBeforeUpload(file('cat.gif', 'image/gif'), null)).toBe('cat.gif is not a PNG, JPEG or WebP image.');
		expect(refuseBeforeUpload(file('big.png', 'image/png', 3_000_000), 2_000_000)).toContain('big.png is larger than the 2 MB');
	});
});
