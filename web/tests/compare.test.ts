import { describe, expect, it } from 'vitest';
import { applyCompareEvent, compareAnswers, endUnfinished } from '../src/lib/compare';

const models = [{ id: 'm1', display_name: 'First' }, { id: 'm2', display_name: 'Second' }];

describe('compare answers', () => {
	it('sends each interleaved event to the answer it names', () => {
		const answers = compareAnswers(models);
		applyCompareEvent(answers, 'delta', { content: 'Hel', answer: 1, model: 'second' });
		applyCompareEvent(answers, 'delta', { content: 'One', answer: 0, model: 'first' });
		applyCompareEvent(answers, 'delta', { content: 'lo', answer: 1, model: 'second' });
		expect(answers.map((a) => a.text)).toEqual(['One', 'Hello']);
		expect(answers.map((a) => a.name)).toEqual(['First', 'Second']);
	});

	it('takes the stored answer on done, and its id to keep it', () => {
		const answers = compareAnswers(models);
		applyCompareEvent(answers, 'delta', { content: 'Hello', answer: 0, model: 'first' });
		applyCompareEvent(answers, 'done', { id: 'a1', content: 'Hello, world', answer: 0, model: 'first' });
		expect(answers[0]).toMatchObject({ done: true, messageId: 'a1', text: 'Hello, world' });
		expect(answers[1].done).toBe(false);
		// A late piece for a finished answer changes nothing.
		expect(applyCompareEvent(answers, 'delta', { content: '!', answer: 0 })).toBe(false);
		expect(answers[0].text).toBe('Hello, world');
	});

	it('says why an answer failed, and the others go on', () => {
		const answers = compareAnswers(models);
		applyCompareEvent(answers, 'error', { code: 'provider_error', message: 'the vendor is down', answer: 1, model: 'second' });
		expect(answers[1]).toMatchObject({ done: true, messageId: null, error: 'The model could not answer: the vendor is down.' });
		expect(answers[0].done).toBe(false);
	});

	it('ignores events that name no answer asked for', () => {
		const answers = compareAnswers(models);
		expect(applyCompareEvent(answers, 'delta', { content: 'x' })).toBe(false);
		expect(applyCompareEvent(answers, 'delta', { content: 'x', answer: 7 })).toBe(false);
		expect(applyCompareEvent(answers, 'delta', { content: 'x', answer: '0' })).toBe(false);
		expect(applyCompareEvent(answers, 'ping', { answer: 0 })).toBe(false);
		expect(answers.map((a) => a.text)).toEqual(['', '']);
	});

	it('marks a done answer without an id as not saved (the conversation was deleted)', () => {
		const answers = compareAnswers(models);
		applyCompareEvent(answers, 'done', { answer: 0, model: 'first' });
		expect(answers[0]).toMatchObject({ done: true, messageId: null });
		expect(answers[0].error).toMatch(/not saved/);
	});

	it('ends the answers still running when the stream stops, keeping the finished ones', () => {
		const answers = compareAnswers(models);
		applyCompareEvent(answers, 'done', { id: 'a1', content: 'Done', answer: 0 });
		endUnfinished(answers, 'Stopped: this answer was not saved.');
		expect(answers[0].messageId).toBe('a1');
		expect(answers[0].error).toBeUndefined();
		expect(answers[1]).toMatchObject({ done: true, error: 'Stopped: this answer was not saved.' });
	});
});
