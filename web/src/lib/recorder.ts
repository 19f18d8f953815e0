// Dictation: the microphone recorded with MediaRecorder, the recording sent to
// POST /v1/transcriptions, its text put into the message box. Browsers record voice as
// WebM/Opus (Chromium, Firefox) or MP4/AAC (Safari); Studio accepts both.

/** What the page needs of the browser; the real one by default, a fake in tests. */
export interface RecordingDeps {
	getUserMedia: (constraints: MediaStreamConstraints) => Promise<MediaStream>;
	MediaRecorder: {
		new (stream: MediaStream, options?: MediaRecorderOptions): MediaRecorder;
		isTypeSupported(type: string): boolean;
	};
}

// In order of preference: what every Studio transcription vendor reads.
const TYPES = ['audio/webm;codecs=opus', 'audio/webm', 'audio/ogg;codecs=opus', 'audio/mp4'];

function browserDeps(): RecordingDeps | null {
	const media = globalThis.navigator?.mediaDevices;
	// No MediaRecorder (an old browser), or no mediaDevices (a page not served from
	// localhost or HTTPS): the microphone cannot be used at all.
	if (typeof globalThis.MediaRecorder === 'undefined' || typeof media?.getUserMedia !== 'function') return null;
	return { getUserMedia: (c) => media.getUserMedia(c), MediaRecorder: globalThis.MediaRecorder };
}

export function recordingSupported(deps: RecordingDeps | null = browserDeps()): boolean {
	return deps !== null;
}

/** The recording's type to ask for; '' lets the browser choose. */
export function recordingType(isTypeSupported: (type: string) => boolean): string {
	return TYPES.find((type) => isTypeSupported(type)) ?? '';
}

/** A file name whose extension matches the recording (vendors read the format from it). */
export function recordingName(type: string): string {
	const base = type.split(';')[0].trim().toLowerCase();
	const extension = base === 'audio/mp4' || base === 'video/mp4' ? 'm4a'
		: base === 'audio/ogg' ? 'ogg'
			: base === 'audio/wav' ? 'wav'
				: base === 'audio/mpeg' ? 'mp3' : 'webm';
	return `recording.${extension}`;
}

/** A sentence for a microphone that could not be opened (getUserMedia's DOMException names). */
export function microphoneError(error: unknown): string {
	const name = error instanceof Error || (typeof error === 'object' && error !== null && 'name' in error)
		? String((error as { name: unknown }).name) : '';
	if (name === 'NotAllowedError' || name === 'SecurityError')
		return 'The browser did not allow the microphone. Allow it for this site in the browser’s settings, then try again.';
	if (name === 'NotFoundError' || name === 'OverconstrainedError')
		return 'No microphone was found. Connect one, then try again.';
	if (name === 'NotReadableError' || name === 'AbortError')
		return 'The microphone could not be started: another application may be using it.';
	return 'The recording could not be started in this browser.';
}

/** `text` put into `value` where the selection was (replacing it), with a space on each
 * side where words would otherwise run together; and where the caret goes after it. */
export function insertText(value: string, text: string, start = value.length, end = start): { value: string; caret: number } {
	const piece = text.trim();
	if (!piece) return { value, caret: end };
	const before = value.slice(0, start);
	const after = value.slice(end);
	const lead = before && !/\s$/.test(before) ? ' ' : '';
	const trail = after && !/^\s/.test(after) ? ' ' : '';
	const inserted = lead + piece + trail;
	return { value: before + inserted + after, caret: before.length + lead.length + piece.length };
}

/** One recording: start() opens the microphone and records, stop() gives the audio and
 * lets the microphone go (the browser's "recording" indicator turns off). */
export class VoiceRecorder {
	private recorder: MediaRecorder | null = null;
	private stream: MediaStream | null = null;
	private chunks: Blob[] = [];

	constructor(private readonly deps: RecordingDeps | null = browserDeps()) {}

	get recording(): boolean {
		return this.recorder !== null && this.recorder.state !== 'inactive';
	}

	async start(): Promise<void> {
		if (!this.deps) throw new Error('This browser cannot record audio.');
		this.stream = await this.deps.getUserMedia({ audio: true });
		try {
			const type = recordingType((t) => this.deps?.MediaRecorder.isTypeSupported(t) ?? false);
			this.recorder = new this.deps.MediaRecorder(this.stream, type ? { mimeType: type } : undefined);
			// This recording's own list: a cancelled one's last piece cannot reach the next.
			const chunks: Blob[] = [];
			this.chunks = chunks;
			this.recorder.addEventListener('dataavailable', (event) => {
				if (event.data.size > 0) chunks.push(event.data);
			});
			this.recorder.start();
		} catch (e) {
			this.release();
			throw e;
		}
	}

	/** The recording so far, once the recorder has handed over its last piece. */
	stop(): Promise<Blob> {
		const recorder = this.recorder;
		if (!recorder || recorder.state === 'inactive') {
			this.release();
			return Promise.resolve(new Blob([], { type: 'audio/webm' }));
		}
		const chunks = this.chunks;
		return new Promise((resolve) => {
			recorder.addEventListener('stop', () => {
				const type = recorder.mimeType || chunks[0]?.type || 'audio/webm';
				const blob = new Blob(chunks, { type });
				this.chunks = [];
				this.release();
				resolve(blob);
			}, { once: true });
			recorder.stop();
		});
	}

	/** Ends a recording without keeping it (the page closes, or the user cancels). */
	cancel(): void {
		if (this.recorder && this.recorder.state !== 'inactive') this.recorder.stop();
		this.chunks = [];
		this.release();
	}

	private release(): void {
		for (const track of this.stream?.getTracks() ?? []) track.stop();
		this.stream = null;
		this.recorder = null;
	}
}
