import { describe, expect, it } from 'vitest';
import { fieldsFromSchema, initialValues, labelFor, toParams, valuesFromParams } from '../src/lib/forms';

// What GET /v1/models returns as `parameters` for the providers Studio ships with.
const espeak = {
	type: 'object',
	properties: {
		voice: { maxLength: 32, pattern: '^[a-z]{2,3}(-[a-z0-9]+)*$', type: 'string', default: null,
			description: "an eSpeak NG voice such as en or en-us (default: the model's)" },
		speed: { maximum: 450, minimum: 80, type: 'integer', default: null, description: 'words per minute (default 175)' },
		pitch: { maximum: 99, minimum: 0, type: 'integer', default: null, description: 'voice pitch (default 50)' },
		format: { enum: ['wav', 'ogg'], type: 'string', default: null, description: "the audio file's format (default wav)" }
	},
	additionalProperties: false
};

const ffmpeg = {
	type: 'object',
	properties: {
		duration_seconds: { maximum: 600, minimum: 0.5, type: 'number', default: null, description: "the video's length in seconds" },
		width: { maximum: 1920, minimum: 64, multipleOf: 2, type: 'integer', default: null, description: 'in pixels, even (default 640)' },
		height: { maximum: 1920, minimum: 64, multipleOf: 2, type: 'integer', default: null, description: 'in pixels, even (default 360)' },
		fps: { maximum: 60, minimum: 1, type: 'integer', default: null, description: 'frames per second (default 25)' },
		background: { pattern: '^#?[0-9a-fA-F]{6}$|^[a-z]{3,20}$', type: 'string', default: null,
			description: 'a color: #rrggbb or a name such as navy (default #1e293b)' }
	},
	additionalProperties: false
};

const image = {
	type: 'object',
	properties: {
		size: { enum: ['256x256', '512x512', '1024x1024', '1024x1536', '1536x1024'], type: 'string', default: null,
			description: 'width x height in pixels' },
		quality: { enum: ['low', 'medium', 'high', 'standard', 'hd'], type: 'string', default: null,
			description: 'which values a model accepts depends on the model' },
		seed: { maximum: 4294967295, minimum: 0, type: 'integer', default: null,
			description: 'the same seed repeats an image, where the model supports it' },
		negative_prompt: { maxLength: 2000, type: 'string', default: null, description: 'what the image should not show' },
		width: { maximum: 2048, minimum: 64, multipleOf: 8, type: 'integer', default: null, description: 'in pixels, a multiple of 8' },
		height: { maximum: 2048, minimum: 64, multipleOf: 8, type: 'integer', default: null, description: 'in pixels, a multiple of 8' },
		steps: { maximum: 150, minimum: 1, type: 'integer', default: null, description: 'sampling steps' }
	},
	additionalProperties: false
};

const speech = {
	type: 'object',
	properties: {
		voice: { maxLength: 64, minLength: 1, type: 'string', default: null, description: "the provider's voice name or id (default: the model's)" },
		format: { enum: ['mp3', 'wav', 'opus', 'aac', 'flac'], type: 'string', default: null, description: "the audio file's format (default mp3)" },
		speed: { maximum: 4.0, minimum: 0.25, type: 'number', default: null, description: 'speaking rate, 1 is normal' },
		stability: { maximum: 1, minimum: 0, type: 'number', default: null, description: 'voice stability (ElevenLabs)' },
		similarity_boost: { maximum: 1, minimum: 0, type: 'number', default: null, description: 'closeness to the voice (ElevenLabs)' }
	},
	additionalProperties: false
};

const chat = { type: 'object', properties: {}, additionalProperties: false };

describe('fieldsFromSchema', () => {
	it('describes the eSpeak fields in order, with kinds, bounds and hints', () => {
		const fields = fieldsFromSchema(espeak);
		expect(fields.map((f) => [f.name, f.kind])).toEqual([
			['voice', 'text'], ['speed', 'integer'], ['pitch', 'integer'], ['format', 'select']
		]);
		const speed = fields[1];
		expect(speed).toMatchObject({ label: 'Speed', min: 80, max: 450, step: 1, default: '', required: false,
			description: 'words per minute (default 175)' });
		expect(fields[3].options).toEqual([{ value: 'wav', label: 'wav' }, { value: 'ogg', label: 'ogg' }]);
		expect(fields[0]).toMatchObject({ maxLength: 32, pattern: '^[a-z]{2,3}(-[a-z0-9]+)*$' });
	});

	it('takes steps from multipleOf, any step for plain numbers, and a textarea for long text', () => {
		const video = fieldsFromSchema(ffmpeg);
		expect(video.find((f) => f.name === 'duration_seconds')).toMatchObject({ kind: 'number', step: 'any', min: 0.5, max: 600,
			label: 'Duration seconds' });
		expect(video.find((f) => f.name === 'width')).toMatchObject({ kind: 'integer', step: 2 });
		const picture = fieldsFromSchema(image);
		expect(picture.find((f) => f.name === 'negative_prompt')).toMatchObject({ kind: 'textarea', label: 'Negative prompt' });
		expect(picture.find((f) => f.name === 'height')?.step).toBe(8);
	});

	it('has no fields for chat models or for what is not a schema', () => {
		expect(fieldsFromSchema(chat)).toEqual([]);
		expect(fieldsFromSchema(null)).toEqual([]);
		expect(fieldsFromSchema({ type: 'object' })).toEqual([]);
		expect(fieldsFromSchema('nope')).toEqual([]);
	});

	it('offers a voice list as a select and example voices as suggestions', () => {
		const listed = fieldsFromSchema({ type: 'object', properties: { voice: { type: 'string', enum: ['af_bella', 'am_adam'], default: null } } });
		expect(listed[0]).toMatchObject({ kind: 'select', options: [{ value: 'af_bella', label: 'af_bella' }, { value: 'am_adam', label: 'am_adam' }] });
		const examples = fieldsFromSchema({ type: 'object', properties: { voice: { type: 'string', examples: ['alloy', 'echo', 3], default: null } } });
		expect(examples[0]).toMatchObject({ kind: 'text', suggestions: ['alloy', 'echo'] });
		expect(fieldsFromSchema(espeak)[0].suggestions).toBeUndefined();
	});

	it('reads titles, required, defaults, booleans, nullable unions and typed enums', () => {
		const fields = fieldsFromSchema({
			type: 'object',
			required: ['steps', 'upscale'],
			properties: {
				steps: { type: 'integer', title: 'Sampling steps', default: 30, minimum: 1 },
				upscale: { type: 'boolean', default: false },
				hdr: { type: 'boolean', default: null },
				guidance: { anyOf: [{ type: 'number', maximum: 20 }, { type: 'null' }], default: 7.5, description: 'CFG' },
				style: { type: ['string', 'null'] },
				frames: { enum: [8, 16, 24], type: 'integer' },
				either: { anyOf: [{ type: 'string' }, { type: 'integer' }] },
				nested: { type: 'object', properties: {} },
				list: { type: 'array', items: { type: 'string' } }
			}
		});
		expect(fields.map((f) => f.name)).toEqual(['steps', 'upscale', 'hdr', 'guidance', 'style', 'frames']);
		expect(fields[0]).toMatchObject({ label: 'Sampling steps', required: true, default: '30' });
		expect(fields[1]).toMatchObject({ kind: 'checkbox', required: true, default: false });
		expect(fields[2]).toMatchObject({ kind: 'checkbox', required: false, default: false });
		expect(fields[3]).toMatchObject({ kind: 'number', max: 20, default: '7.5', description: 'CFG' });
		expect(fields[4]).toMatchObject({ kind: 'text' });
		expect(fields[5]).toMatchObject({ kind: 'select', options: [{ value: '8', label: '8' }, { value: '16', label: '16' },
			{ value: '24', label: '24' }] });
	});
});

describe('toParams', () => {
	it('sends nothing for an untouched form: every parameter is optional', () => {
		for (const schema of [espeak, ffmpeg, image, speech, chat]) {
			const fields = fieldsFromSchema(schema);
			expect(toParams(fields, initialValues(fields))).toEqual({ params: {}, errors: {}, ok: true });
		}
	});

	it('coerces numbers, keeps enum strings and trims text', () => {
		const fields = fieldsFromSchema(ffmpeg);
		const result = toParams(fields, { duration_seconds: ' 2.5 ', width: '320', height: '', fps: '12', background: ' navy ' });
		expect(result).toEqual({ params: { duration_seconds: 2.5, width: 320, fps: 12, background: 'navy' }, errors: {}, ok: true });
		const voice = fieldsFromSchema(espeak);
		expect(toParams(voice, { voice: 'en-us', speed: '180', pitch: '', format: 'ogg' }).params)
			.toEqual({ voice: 'en-us', speed: 180, format: 'ogg' });
	});

	it('says what is wrong with each field, in words', () => {
		const fields = fieldsFromSchema(ffmpeg);
		const result = toParams(fields, { duration_seconds: '0.1', width: '321', height: 'tall', fps: '61', background: 'not a colour!' });
		expect(result.ok).toBe(false);
		expect(result.errors).toEqual({
			duration_seconds: 'Enter at least 0.5.',
			width: 'Enter a multiple of 2.',
			height: 'Enter a whole number.',
			fps: 'Enter at most 60.',
			background: 'Not in the expected form: a color: #rrggbb or a name such as navy (default #1e293b).'
		});
		expect(result.params).toEqual({});
		const espeakFields = fieldsFromSchema(espeak);
		expect(toParams(espeakFields, { speed: '175.5' }).errors).toEqual({ speed: 'Enter a whole number.' });
		expect(toParams(espeakFields, { speed: '1e400' }).errors).toEqual({ speed: 'Enter a whole number.' });
		expect(toParams(espeakFields, { format: 'mp3' }).errors).toEqual({ format: 'Choose one of wav, ogg.' });
		const speechFields = fieldsFromSchema(speech);
		expect(toParams(speechFields, { speed: 'fast', stability: '1.5', voice: 'x'.repeat(65) }).errors).toEqual({
			speed: 'Enter a number.', stability: 'Enter at most 1.', voice: 'Enter at most 64 characters (this is 65).'
		});
		expect(toParams(speechFields, { speed: '.5', stability: '0' }).params).toEqual({ speed: 0.5, stability: 0 });
	});

	it('checks required fields, checkboxes and typed enum values', () => {
		const fields = fieldsFromSchema({
			type: 'object',
			required: ['steps', 'mode'],
			properties: {
				steps: { type: 'integer', minimum: 1 },
				mode: { enum: ['fast', 'good'], type: 'string' },
				upscale: { type: 'boolean', default: null },
				tile: { type: 'boolean', default: true },
				frames: { enum: [8, 16], type: 'integer' }
			}
		});
		expect(toParams(fields, initialValues(fields))).toEqual({
			params: { tile: true }, errors: { steps: 'Enter a value.', mode: 'Choose a value.' }, ok: false
		});
		expect(toParams(fields, { steps: '4', mode: 'good', upscale: true, tile: false, frames: '16' })).toEqual({
			params: { steps: 4, mode: 'good', upscale: true, tile: false, frames: 16 }, errors: {}, ok: true
		});
		expect(toParams(fields, { steps: '0', mode: 'good', upscale: false, tile: true }).errors).toEqual({ steps: 'Enter at least 1.' });
	});

	it('round-trips the params of a generation run again', () => {
		const fields = fieldsFromSchema(image);
		const params = { size: '512x512', seed: 42, negative_prompt: 'blur', steps: 20 };
		const values = valuesFromParams(fields, { ...params, unknown: 'ignored' });
		expect(values).toMatchObject({ size: '512x512', seed: '42', negative_prompt: 'blur', steps: '20', quality: '' });
		expect(toParams(fields, values)).toEqual({ params, errors: {}, ok: true });
		expect(valuesFromParams(fields, null)).toEqual(initialValues(fields));
	});
});

describe('labelFor', () => {
	it('turns parameter names into labels', () => {
		expect(labelFor('similarity_boost')).toBe('Similarity boost');
		expect(labelFor('fps')).toBe('Fps');
		expect(labelFor('guidanceScale')).toBe('Guidance scale');
	});
});
