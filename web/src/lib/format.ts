// Small formatting helpers shared by the pages.
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function when(iso: string | null | undefined): string {
	return iso ? dateTime.format(new Date(iso)) : '—';
}

export function bytes(n: number): string {
	if (n < 1024) return `${n} B`;
	const units = ['KB', 'MB', 'GB', 'TB'];
	let value = n / 1024;
	let unit = 0;
	while (value >= 1024 && unit < units.length - 1) {
		value /= 1024;
		unit++;
	}
	return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function seconds(s: number | null | undefined): string {
	if (s === null || s === undefined) return '—';
	if (s < 1) return `${Math.round(s * 1000)} ms`;
	if (s < 120) return `${s.toFixed(1)} s`;
	return `${Math.round(s / 60)} min`;
}

export function duration(from: string | null, to: string | null): string {
	if (!from || !to) return '—';
	return seconds((new Date(to).getTime() - new Date(from).getTime()) / 1000);
}

/** Copies text; true when it worked (the clipboard needs a secure context or localhost). */
export async function copyText(text: string): Promise<boolean> {
	try {
		await navigator.clipboard.writeText(text);
		return true;
	} catch {
		return false;
	}
}
