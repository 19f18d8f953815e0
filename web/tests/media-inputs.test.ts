import { describe, expect, it } from 'vitest';
import { canvasPoint, inputsFor, toMask, uploadRefusal } from '../src/lib/media-inputs';

describe('inputsFor', () => {
	it('offers an image and a mask to an inpainting image model', () => {
		expect(inputsFor('image', ['image', 'image-to-image', 'inpainting'])).toEqual({
			image: true, mask: true, wholeImage: true, required: false, audio: false
		});
	});

	it('requires a painted mask of a model that only inpaints', () => {
		expect(inputsFor('image', ['inpainting'])).toEqual({ image: true, mask: true, wholeImage: false, required: true, audio: false });
	});

	it('offers an image and a soundtrack to image-to-video models, never a mask', () => {
		expect(inputsFor('video', ['video', 'image-to-video'])).toEqual({
			image: true, mask: false, wholeImage: true, required: false, audio: true
		});
		expect(inputsFor('video', ['image-to-video']).required).toBe(true);
	});

	it('offers nothing to models without those capabilities', () => {
		expect(inputsFor('image', ['image']).image).toBe(false);
		expect(inputsFor('video', ['video']).image).toBe(false);
		expect(inputsFor('video', ['video']).audio).toBe(false);
		expect(inputsFor('audio', ['speech', 'image-to-image']).image).toBe(false);
		// image-to-video is no image input on the image page, nor the reverse.
		expect(inputsFor('image', ['image', 'image-to-video']).image).toBe(false);
		expect(inputsFor('video', ['video', 'inpainting']).image).toBe(false);
	});
});

describe('toMask', () => {
	it('makes painted pixels white and the others black, all opaque', () => {
		const rgba = new Uint8ClampedArray([
			236, 72, 153, 255, // painted
			0, 0, 0, 0, // never painted
			236, 72, 153, 200, // the brush's edge, mostly in
			236, 72, 153, 40 // the brush's edge, mostly out
		]);
		expect(toMask(rgba)).toBe(2);
		expect(Array.from(rgba)).toEqual([255, 255, 255, 255, 0, 0, 0, 255, 255, 255, 255, 255, 0, 0, 0, 255]);
	});

	it('counts nothing on an empty canvas', () => {
		expect(toMask(new Uint8ClampedArray(4 * 9))).toBe(0);
	});
});

describe('canvasPoint', () => {
	it('maps a point on the shown canvas to its own pixels', () => {
		const box = { left: 100, top: 50, width: 400, height: 200 };
		expect(canvasPoint(300, 150, box, { width: 1600, height: 800 })).toEqual({ x: 800, y: 400 });
		expect(canvasPoint(100, 50, box, { width: 400, height: 200 })).toEqual({ x: 0, y: 0 });
	});
});

describe('uploadRefusal', () => {
	it('says a file is too large, with the limit the server gave', () => {
		const error = { error: { code: 'payload_too_large', message: 'uploads are limited to 1000 bytes' } };
		expect(uploadRefusal(413, error, '“cat.png”')).toBe(
			'“cat.png” is too large. Uploads are limited to 1000 bytes. Choose a smaller file.'
		);
	});

	it('says which types are taken when the type is refused', () => {
		const error = { error: { code: 'unsupported_media_type', message: 'uploads may be one of image/png, image/jpeg' } };
		expect(uploadRefusal(415, error, '“cat.bmp”')).toBe(
			'“cat.bmp” cannot be used: uploads may be one of image/png, image/jpeg. Choose a PNG, JPEG, WebP or GIF image.'
		);
	});
});
