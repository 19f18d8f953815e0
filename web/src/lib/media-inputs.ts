// Media a generation starts from: which inputs a model takes (its capabilities), uploading
// a file to POST /v1/uploads, and turning a painted canvas into an inpainting mask.
import { api, errorMessage, type Schemas } from './api/client';

export type GenerationInput = Schemas['GenerationInput'];

/** What POST /v1/uploads answers (the schema leaves it untyped: the body is the raw file). */
export interface Upload {
	id: string;
	url: string;
	size: number;
	content_type: string;
}

/** The image types Studio takes as uploads (src/studio/media/service.py UPLOAD_TYPES). */
export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'];
export const IMAGE_TYPES_TEXT = 'a PNG, JPEG, WebP or GIF image';
/** The audio types Studio takes as uploads (the same list). */
export const AUDIO_TYPES = ['audio/mpeg', 'audio/wav', 'audio/x-wav', 'audio/ogg'];
export const AUDIO_TYPES_TEXT = 'an MP3, WAV or Ogg audio file';

/** What a model of `kind` can start from, by its capabilities (the API checks the same). */
export function inputsFor(kind: string, capabilities: readonly string[]): {
	/** It takes an image to start from. */
	image: boolean;
	/** It takes a mask with that image (inpainting). */
	mask: boolean;
	/** It edits a whole image without a mask. */
	wholeImage: boolean;
	/** It cannot run from the prompt alone: an image is required. */
	required: boolean;
	/** It takes an audio track with its image (image-to-video). */
	audio: boolean;
} {
	const has = (c: string) => capabilities.includes(c);
	if (kind === 'image') {
		const image = has('image-to-image') || has('inpainting');
		return { image, mask: has('inpainting'), wholeImage: has('image-to-image'), required: image && !has('image'),
			audio: false };
	}
	if (kind === 'video') {
		const image = has('image-to-video');
		return { image, mask: false, wholeImage: image, required: image && !has('video'), audio: image };
	}
	return { image: false, mask: false, wholeImage: false, required: false, audio: false };
}

/** Uploads a file as it is (the body is the file, its type the Content-Type), through the
 * app's client so the session cookie and the CSRF token go with it. Throws an Error
 * whose message is a sentence for the user. */
export async function uploadFile(file: Blob, name = 'The file'): Promise<Upload> {
	const { data, error, response } = await api.POST('/v1/uploads', {
		// The operation declares no body (it is read as a stream): the file goes unchanged.
		body: file as never,
		bodySerializer: (body: unknown) => body,
		headers: { 'Content-Type': file.type }
	});
	if (!response.ok || !data) throw new Error(uploadRefusal(response.status, error, name));
	return data as Upload;
}

/** A refused upload as a sentence: the server's reason, and what to do about it. */
export function uploadRefusal(status: number, error: unknown, name = 'The file'): string {
	const reason = sentence(errorMessage(error, `Studio refused the upload (${status})`));
	if (status === 413) return `${name} is too large. ${reason} Choose a smaller file.`;
	if (status === 415) return `${name} cannot be used: ${lower(reason)} Choose ${IMAGE_TYPES_TEXT}.`;
	if (status === 429) return `${reason} Wait a moment, then try again.`;
	return `${name} could not be uploaded: ${lower(reason)}`;
}

function sentence(text: string): string {
	const trimmed = text.trim();
	return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

function lower(text: string): string {
	return text.charAt(0).toLowerCase() + text.slice(1);
}

/** Painted pixels (alpha at least this) count as painted: the brush's soft edge is half in. */
export const PAINTED_ALPHA = 128;

/**
 * Turns the RGBA pixels of the painting canvas into the mask, in place: white (opaque)
 * where painted, black (opaque) elsewhere. Returns how many pixels are painted.
 */
export function toMask(rgba: Uint8ClampedArray): number {
	let painted = 0;
	for (let i = 0; i < rgba.length; i += 4) {
		const on = rgba[i + 3] >= PAINTED_ALPHA;
		const value = on ? 255 : 0;
		if (on) painted++;
		rgba[i] = value;
		rgba[i + 1] = value;
		rgba[i + 2] = value;
		rgba[i + 3] = 255;
	}
	return painted;
}

/** A point of a pointer event in the canvas's own pixels (it is shown scaled). */
export function canvasPoint(
	clientX: number,
	clientY: number,
	box: { left: number; top: number; width: number; height: number },
	size: { width: number; height: number }
): { x: number; y: number } {
	const sx = box.width ? size.width / box.width : 1;
	const sy = box.height ? size.height / box.height : 1;
	return { x: (clientX - box.left) * sx, y: (clientY - box.top) * sy };
}
