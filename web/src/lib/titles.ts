// A conversation created without a title is titled by a model after its first answer, in a
// background job: the title changes a few seconds later, and nothing tells the page. So
// the page asks again, less and less often, until the title changed or it gives up.

/** Waits before each look: 1, 2, 4, 8 and 16 seconds, about half a minute in all. */
export const TITLE_DELAYS_MS = [1000, 2000, 4000, 8000, 16000];

export interface TitleWatch {
	/** The conversation's current title, or null when it cannot be read now (or is gone). */
	fetchTitle: () => Promise<string | null>;
	delays?: number[];
	signal?: AbortSignal;
	sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

function wait(ms: number, signal?: AbortSignal): Promise<void> {
	return new Promise((resolve) => {
		if (signal?.aborted) return resolve();
		const timer = setTimeout(done, ms);
		function done() {
			clearTimeout(timer);
			signal?.removeEventListener('abort', done);
			resolve();
		}
		signal?.addEventListener('abort', done, { once: true });
	});
}

/** The new title once it differs from `before`; null when it did not change in time, or
 * the watch was aborted. A failed look is not the end: the next one may work. */
export async function awaitNewTitle(before: string, watch: TitleWatch): Promise<string | null> {
	const sleep = watch.sleep ?? wait;
	for (const ms of watch.delays ?? TITLE_DELAYS_MS) {
		await sleep(ms, watch.signal);
		if (watch.signal?.aborted) return null;
		let title: string | null = null;
		try {
			title = await watch.fetchTitle();
		} catch {
			title = null;
		}
		if (watch.signal?.aborted) return null;
		if (title !== null && title !== before) return title;
	}
	return null;
}
