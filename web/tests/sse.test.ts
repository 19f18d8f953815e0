import { describe, expect, it } from 'vitest';
import { EventStreamParser, readEvents, type ServerEvent } from '../src/lib/sse';

function parseAll(chunks: string[]): ServerEvent[] {
	const parser = new EventStreamParser();
	return chunks.flatMap((chunk) => parser.push(chunk));
}

function body(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
	return new ReadableStream({
		start(controller) {
			for (const chunk of chunks) controller.enqueue(chunk);
			controller.close();
		}
	});
}

describe('EventStreamParser', () => {
	it('parses named events with JSON data', () => {
		const events = parseAll(['event: delta\ndata: {"content":"Hel"}\n\nevent: delta\ndata: {"content":"lo"}\n\n']);
		expect(events).toEqual([
			{ event: 'delta', data: '{"content":"Hel"}', id: null },
			{ event: 'delta', data: '{"content":"lo"}', id: null }
		]);
	});

	it('gives the same events however the text is split', () => {
		const text = 'id: 7\nevent: generation\ndata: {"a":1}\n\n: keep-alive\n\ndata: line one\ndata: line two\n\n';
		const whole = parseAll([text]);
		for (let size = 1; size <= 7; size++) {
			const chunks: string[] = [];
			for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
			expect(parseAll(chunks)).toEqual(whole);
		}
		expect(whole).toEqual([
			{ event: 'generation', data: '{"a":1}', id: '7' },
			{ event: 'message', data: 'line one\nline two', id: '7' }
		]);
	});

	it('accepts CR and CRLF line ends, also split between chunks', () => {
		expect(parseAll(['data: a\r\n\r\ndata: b\r\r'])).toEqual([
			{ event: 'message', data: 'a', id: null },
			{ event: 'message', data: 'b', id: null }
		]);
		expect(parseAll(['data: c\r', '\n\r', '\n'])).toEqual([{ event: 'message', data: 'c', id: null }]);
	});

	it('skips comments and events without data, keeps one leading space only', () => {
		expect(parseAll([': hello\n\nevent: ping\n\ndata:  two spaces\ndata:none\n\n'])).toEqual([
			{ event: 'message', data: ' two spaces\nnone', id: null }
		]);
	});

	it('does not dispatch an event until its blank line arrives', () => {
		const parser = new EventStreamParser();
		expect(parser.push('event: done\ndata: {}\n')).toEqual([]);
		expect(parser.push('\n')).toEqual([{ event: 'done', data: '{}', id: null }]);
	});
});

describe('readEvents', () => {
	it('decodes UTF-8 split inside a character', async () => {
		const bytes = new TextEncoder().encode('event: delta\ndata: {"content":"héllo ✓"}\n\n');
		const cut = bytes.indexOf(0xc3) + 1; // in the middle of "é"
		const events: ServerEvent[] = [];
		for await (const event of readEvents(body([bytes.slice(0, cut), bytes.slice(cut)]))) events.push(event);
		expect(events.map((e) => JSON.parse(e.data).content)).toEqual(['héllo ✓']);
	});

	it('dispatches a last event that lacks its blank line when the stream ends', async () => {
		const events: ServerEvent[] = [];
		for await (const event of readEvents(body([new TextEncoder().encode('event: done\ndata: null')]))) events.push(event);
		expect(events).toEqual([{ event: 'done', data: 'null', id: null }]);
	});
});
