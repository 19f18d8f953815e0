import { describe, expect, it } from 'vitest';
import { lossChart, movingAverage, timeLeft } from '../src/lib/loss-chart';

describe('movingAverage', () => {
	it('averages each value with the ones before it, up to the window', () => {
		expect(movingAverage([2, 4, 6, 8], 2)).toEqual([2, 3, 5, 7]);
		expect(movingAverage([1, 2, 3], 5)).toEqual([1, 1.5, 2]);
	});
});

describe('lossChart', () => {
	it('draws from the left to the step reached, the highest loss at the top', () => {
		const chart = lossChart([1, 0.5, 0.25], 6, 60, 10)!;
		expect(chart.low).toBe(0.25);
		expect(chart.high).toBe(1);
		expect(chart.raw).toBe('M10.0,0.0 L20.0,6.7 L30.0,10.0');
	});

	it('draws nothing for fewer than two losses, or a loss that is not a number', () => {
		expect(lossChart([0.3], 10, 100, 10)).toBeNull();
		expect(lossChart([0.3, Number.NaN], 10, 100, 10)).toBeNull();
	});
});

describe('timeLeft', () => {
	it('says seconds, minutes or hours', () => {
		expect(timeLeft(42.4)).toBe('42 s');
		expect(timeLeft(125)).toBe('2 min 5 s');
		expect(timeLeft(7260)).toBe('2 h 1 min');
		expect(timeLeft(null)).toBe('—');
	});
});

describe('the trend line', () => {
	it('is smoother than the steps once there are ten or more', () => {
		const noisy = [1, 0.2, 1, 0.2, 1, 0.2, 1, 0.2, 1, 0.2, 1, 0.2];
		const chart = lossChart(noisy, 12, 120, 10)!;
		expect(chart.smooth).not.toBe(chart.raw);
	});
});
