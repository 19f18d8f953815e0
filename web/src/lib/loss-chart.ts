// The loss chart of a training run: an SVG path of the raw losses and one of their
// moving average (a single step's loss is noisy; the trend is what a person watches).

export interface Chart {
	raw: string;
	smooth: string;
	low: number;
	high: number;
}

/** The mean of each value and the `window - 1` before it. */
export function movingAverage(values: number[], window: number): number[] {
	const out: number[] = [];
	let sum = 0;
	for (let i = 0; i < values.length; i++) {
		sum += values[i];
		if (i >= window) sum -= values[i - window];
		out.push(sum / Math.min(i + 1, window));
	}
	return out;
}

/** Paths for a `width` x `height` box, steps left to right over `totalSteps`, loss
 * bottom (low) to top (high); null with fewer than two finite losses. */
export function lossChart(values: number[], totalSteps: number, width: number, height: number): Chart | null {
	const finite = values.filter((v) => Number.isFinite(v));
	if (finite.length < 2 || finite.length !== values.length) return null;
	const low = Math.min(...values);
	const high = Math.max(...values);
	const span = high - low || 1;
	const steps = Math.max(totalSteps, values.length);
	const x = (i: number) => ((i + 1) / steps) * width;
	const y = (v: number) => height - ((v - low) / span) * height;
	const path = (series: number[]) =>
		series.map((v, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
	// A trend over about a twentieth of the run, at least 3 steps once there are 10.
	const window = Math.max(values.length >= 10 ? 3 : 1, Math.round(values.length / 20));
	return { raw: path(values), smooth: path(movingAverage(values, window)), low, high };
}

/** "2 min 5 s" */
export function timeLeft(seconds: number | null | undefined): string {
	if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
	const s = Math.round(seconds);
	if (s < 60) return `${s} s`;
	const m = Math.floor(s / 60);
	if (m < 60) return `${m} min ${s % 60} s`;
	return `${Math.floor(m / 60)} h ${m % 60} min`;
}
