// Files the chat sends to Studio: images attached to a message (POST /v1/uploads, the raw
// file as the body) and recordings to turn into text (POST /v1/transcriptions, a form).
// Both go through the API client, so they carry the session and the CSRF token.
import { api, errorMessage } from '$lib/api/client';
import { IMAGE_TYPES, uploadFile } from '$lib/media-inputs';
import { recordingName } from '$lib/recorder';

export { IMAGE_TYPES };
/** The API's limit on attachments per message. */
export const MAX_ATTACHMENTS = 8;

/** Stores an image as the user's upload; its media id. Throws an Error with the API's sentence. */
export async function uploadImage(file: File): Promise<string> {
	if (!IMAGE_TYPES.includes(file.type))
		throw new Error(`${file.name} is not an image Studio can attach: choose a PNG, JPEG, WebP or GIF file.`);
	return (await uploadFile(file, file.name)).id;
}

/** The text of a recording, from the first model that can transcribe (the API's default).
 * Throws an Error with the API's sentence (e.g. that no model can transcribe here). */
export async function transcribe(recording: Blob, signal?: AbortSignal): Promise<string> {
	const form = new FormData();
	form.append('file', recording, recordingName(recording.type));
	const result = await api.POST('/v1/transcriptions', {
		// FormData goes as it is: the browser writes the multipart boundary.
		body: form as never,
		signal
	});
	if (!result.response.ok || !result.data) throw new Error(errorMessage(result.error));
	return result.data.text;
}
