import { describe, expect, it } from 'vitest';
import { awaitNewTitle, TITLE_DELAYS_MS } from '../src/lib/titles';

/** A clock that does not wait: it writes down each pause asked for. */
function instant() {
	const waited: number[] = [];
	return { waited, sleep: async (ms: number) => void waited.push(ms) };
}

describe('awaitNewTitle', () => {
	it('asks again with growing pauses until the title changes', async () => {
		const clock = instant();
		const answers = ['New conversation', 'New conversation', 'Wombat burrows'];
		const title = await awaitNewTitle('New conversation', { fetchTitle: async () => answers.shift() ?? null, ...clock });
		expect(title).toBe('Wombat burrows');
		expect(clock.waited).toEqual([1000, 2000, 4000]);
	});

	it('gives up after about half a minute when nothing changes', async () => {
		const clock = instant();
		let asked = 0;
		const title = await awaitNewTitle('Same', { fetchTitle: async () => (asked++, 'Same'), ...clock });
		expect(title).toBeNull();
		expect(asked).toBe(TITLE_DELAYS_MS.length);
		const total = clock.waited.reduce((a, b) => a + b, 0);
		expect(total).toBeGreaterThanOrEqual(25_000);
		expect(total).toBeLessThanOrEqual(35_000);
	});

	it('goes on after a failed look', async () => {
		const clock = instant();
		let asked = 0;
		const title = await awaitNewTitle('Old', {
			fetchTitle: async () => {
				asked++;
				if (asked === 1) throw new TypeError('Failed to fetch');
				return asked === 2 ? null : 'New';
			},
			...clock
		});
		expect(title).toBe('New');
		expect(asked).toBe(3);
	});

	it('stops when aborted, without asking again', async () => {
		const watch = new AbortController();
		let asked = 0;
		const title = await awaitNewTitle('Old', {
			signal: watch.signal,
			fetchTitle: async () => {
				asked++;
				watch.abort(); // e.g. the conversation was deleted, or renamed by the user
				return 'New';
			},
			sleep: async () => undefined
		});
		expect(title).toBeNull();
		expect(asked).toBe(1);
	});

	it('waits for real with timers by default, and an abort ends the wait at once', async () => {
		const watch = new AbortController();
		const started = Date.now();
		const pending = awaitNewTitle('Old', { signal: watch.signal, delays: [60_000], fetchTitle: async () => 'New' });
		setTimeout(() => watch.abort(), 10);
		expect(await pending).toBeNull();
		expect(Date.now() - started).toBeLessThan(5_000);
	});
});
