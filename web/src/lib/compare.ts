// Compare: one question answered by 2-4 chat models over one event stream. Every delta,
// done and error event names its `answer` (the index in compare_model_ids) and `model`
// (its slug); the answers arrive interleaved, each stored as a sibling child of the
// question when it is complete.

export const COMPARE_MIN = 2;
export const COMPARE_MAX = 4;

export interface CompareAnswer {
	/** The model asked, and its name for the label. */
	modelId: string;
	name: string;
	text: string;
	done: boolean;
	/** The stored answer's id, once done: what "Keep this one" shows. */
	messageId: string | null;
	error?: string;
}

export function compareAnswers(models: { id: string; display_name: string }[]): CompareAnswer[] {
	return models.map((m) => ({ modelId: m.id, name: m.display_name, text: '', done: false, messageId: null }));
}

interface Tagged {
	answer?: unknown;
	model?: unknown;
}

/** The answer an event belongs to; undefined for an event that names none we asked for. */
export function answerOf<T>(answers: T[], data: Tagged): T | undefined {
	return typeof data.answer === 'number' && Number.isInteger(data.answer) ? answers[data.answer] : undefined;
}

/** Applies one compare event (delta, done, error) to its answer; false when it names none. */
export function applyCompareEvent(answers: CompareAnswer[], event: string, data: Record<string, unknown>): boolean {
	const answer = answerOf(answers, data);
	if (!answer || answer.done) return false;
	if (event === 'delta') {
		answer.text += typeof data.content === 'string' ? data.content : '';
	} else if (event === 'done') {
		answer.done = true;
		// No id: the conversation was deleted while the answers were being written.
		answer.messageId = typeof data.id === 'string' ? data.id : null;
		if (typeof data.content === 'string') answer.text = data.content;
		if (!answer.messageId) answer.error = 'This answer was not saved: the conversation was deleted meanwhile.';
	} else if (event === 'error') {
		answer.done = true;
		const message = typeof data.message === 'string' ? data.message : 'unknown error';
		answer.error = `The model could not answer: ${message}.`;
	} else return false;
	return true;
}

/** Ends the answers still running (the stream stopped or was stopped): nothing of them is stored. */
export function endUnfinished(answers: CompareAnswer[], why: string): void {
	for (const answer of answers) {
		if (!answer.done) {
			answer.done = true;
			answer.error = why;
		}
	}
}
