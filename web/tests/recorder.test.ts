import { describe, expect, it } from 'vitest';
import {
	insertText, microphoneError, recordingName, recordingSupported, recordingType, VoiceRecorder, type RecordingDeps
} from '../src/lib/recorder';

/** A browser's recorder as far as the page uses it: pieces of audio, then "stop". */
class FakeRecorder extends EventTarget {
	static supported = ['audio/webm;codecs=opus', 'audio/webm'];
	static made: FakeRecorder[] = [];
	state: 'inactive' | 'recording' = 'inactive';
	readonly mimeType: string;

	constructor(readonly stream: MediaStream, options?: MediaRecorderOptions) {
		super();
		this.mimeType = options?.mimeType ?? 'audio/webm';
		FakeRecorder.made.push(this);
	}

	static isTypeSupported(type: string) {
		return FakeRecorder.supported.includes(type);
	}

	start() {
		this.state = 'recording';
	}

	speak(text: string) {
		this.dispatchEvent(Object.assign(new Event('dataavailable'), { data: new Blob([text], { type: this.mimeType }) }));
	}

	stop() {
		this.state = 'inactive';
		// As browsers do: the last piece, then "stop", a moment later.
		setTimeout(() => {
			this.speak('!');
			this.dispatchEvent(new Event('stop'));
		}, 0);
	}
}

function microphone(fail?: string) {
	const stopped: string[] = [];
	const tracks = [{ kind: 'audio', stop: () => stopped.push('audio') }];
	const deps: RecordingDeps = {
		getUserMedia: async () => {
			if (fail) throw Object.assign(new Error('no'), { name: fail });
			return { getTracks: () => tracks } as unknown as MediaStream;
		},
		MediaRecorder: FakeRecorder as unknown as RecordingDeps['MediaRecorder']
	};
	return { deps, stopped };
}

describe('VoiceRecorder', () => {
	it('records the pieces until stop, then lets the microphone go', async () => {
		const { deps, stopped } = microphone();
		const recorder = new VoiceRecorder(deps);
		await recorder.start();
		expect(recorder.recording).toBe(true);
		const fake = FakeRecorder.made.at(-1)!;
		expect(fake.mimeType).toBe('audio/webm;codecs=opus');
		fake.speak('hello ');
		fake.speak('world');
		const audio = await recorder.stop();
		expect(await audio.text()).toBe('hello world!');
		expect(audio.type).toBe('audio/webm;codecs=opus');
		expect(stopped).toEqual(['audio']);
		expect(recorder.recording).toBe(false);
	});

	it('keeps nothing of a cancelled recording', async () => {
		const { deps, stopped } = microphone();
		const recorder = new VoiceRecorder(deps);
		await recorder.start();
		FakeRecorder.made.at(-1)!.speak('secret');
		recorder.cancel();
		expect(stopped).toEqual(['audio']);
		const audio = await recorder.stop();
		expect(audio.size).toBe(0);
	});

	it('passes on why the microphone could not be opened', async () => {
		const { deps } = microphone('NotAllowedError');
		const recorder = new VoiceRecorder(deps);
		const error = await recorder.start().then(() => null, (e: unknown) => e);
		expect(microphoneError(error)).toMatch(/did not allow the microphone/);
		expect(recorder.recording).toBe(false);
	});

	it('cannot record without the browser APIs', async () => {
		expect(recordingSupported(null)).toBe(false);
		expect(recordingSupported(microphone().deps)).toBe(true);
		await expect(new VoiceRecorder(null).start()).rejects.toThrow(/cannot record/);
	});
});

describe('recording formats', () => {
	it('asks for the first type the browser records', () => {
		expect(recordingType((t) => t === 'audio/mp4')).toBe('audio/mp4'); // Safari
		expect(recordingType((t) => t.startsWith('audio/webm'))).toBe('audio/webm;codecs=opus');
		expect(recordingType(() => false)).toBe('');
	});

	it('names the file by its type (vendors read the format from the name)', () => {
		expect(recordingName('audio/webm;codecs=opus')).toBe('recording.webm');
		expect(recordingName('audio/mp4')).toBe('recording.m4a');
		expect(recordingName('audio/ogg;codecs=opus')).toBe('recording.ogg');
		expect(recordingName('')).toBe('recording.webm');
	});

	it('says in words what went wrong with the microphone', () => {
		expect(microphoneError({ name: 'NotFoundError' })).toBe('No microphone was found. Connect one, then try again.');
		expect(microphoneError({ name: 'NotReadableError' })).toMatch(/another application/);
		expect(microphoneError(new Error('?'))).toMatch(/could not be started/);
	});
});

describe('insertText', () => {
	it('appends to the message with a space between words', () => {
		expect(insertText('Please summarise', 'the meeting notes')).toEqual({
			value: 'Please summarise the meeting notes', caret: 34
		});
	});

	it('fills an empty box, trimmed', () => {
		expect(insertText('', '  Hello from the recording. ')).toEqual({ value: 'Hello from the recording.', caret: 25 });
	});

	it('replaces the selection, spacing it from the words around', () => {
		const value = 'Write XXX today';
		expect(insertText(value, 'a poem', 6, 9)).toEqual({ value: 'Write a poem today', caret: 12 });
		expect(insertText('ab', 'x', 1, 1)).toEqual({ value: 'a x b', caret: 3 });
	});

	it('changes nothing for empty text', () => {
		expect(insertText('Keep', '   ', 2, 2)).toEqual({ value: 'Keep', caret: 2 });
	});
});
