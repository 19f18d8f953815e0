// Server-Sent Events read from a fetch body (the chat answer comes back on a POST, which
// EventSource cannot send). Follows the event-stream format of the HTML standard: lines
// end in LF, CR or CRLF; `data` lines join with LF; comments start with ':'; an event is
// dispatched at a blank line, and one without data is not dispatched.

export interface ServerEvent {
	event: string;
	data: string;
	id: string | null;
}

/** Feeds text as it arrives, in chunks split anywhere; yields complete events. */
export class EventStreamParser {
	private buffer = '';
	private event = '';
	private data: string[] = [];
	private id: string | null = null;
	private pendingCR = false;

	push(chunk: string): ServerEvent[] {
		const events: ServerEvent[] = [];
		let text = chunk;
		if (this.pendingCR && text.startsWith('\n')) text = text.slice(1); // CRLF split across chunks
		this.pendingCR = false;
		this.buffer += text;
		let start = 0;
		for (let i = 0; i < this.buffer.length; i++) {
			const ch = this.buffer[i];
			if (ch !== '\n' && ch !== '\r') continue;
			const line = this.buffer.slice(start, i);
			if (ch === '\r') {
				if (i + 1 < this.buffer.length) {
					if (this.buffer[i + 1] === '\n') i++;
				} else {
					this.pendingCR = true;
				}
			}
			start = i + 1;
			const event = this.line(line);
			if (event) events.push(event);
		}
		this.buffer = this.buffer.slice(start);
		return events;
	}

	private line(line: string): ServerEvent | null {
		if (line === '') {
			if (this.data.length === 0) {
				this.event = '';
				return null;
			}
			const event = { event: this.event || 'message', data: this.data.join('\n'), id: this.id };
			this.event = '';
			this.data = [];
			return event;
		}
		if (line.startsWith(':')) return null;
		const colon = line.indexOf(':');
		const field = colon === -1 ? line : line.slice(0, colon);
		let value = colon === -1 ? '' : line.slice(colon + 1);
		if (value.startsWith(' ')) value = value.slice(1);
		if (field === 'event') this.event = value;
		else if (field === 'data') this.data.push(value);
		else if (field === 'id' && !value.includes('\0')) this.id = value;
		return null;
	}
}

/** The events of a response body, decoded as UTF-8 across chunk boundaries. */
export async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerEvent> {
	const parser = new EventStreamParser();
	const decoder = new TextDecoder();
	const reader = body.getReader();
	try {
		for (;;) {
			const { value, done } = await reader.read();
			if (done) break;
			yield* parser.push(decoder.decode(value, { stream: true }));
		}
		yield* parser.push(decoder.decode() + '\n\n');
	} finally {
		reader.releaseLock();
	}
}
