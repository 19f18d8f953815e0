// Filling a dataset from the browser: each image is its own request (the body is the
// file), a few at a time, each with its progress, so a hundred photos upload in parallel
// and one refusal names its file without stopping the others.
import { currentCsrfToken, errorMessage, reportUnauthorized, type DatasetImage } from '$lib/api/client';

export const DATASET_IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp'];
/** How many images upload at once: enough to fill the line, few enough to keep it fair. */
export const PARALLEL_UPLOADS = 3;

export interface UploadOutcome {
	image: DatasetImage;
	duplicate: boolean;
}

/** Runs `task` over `items`, at most `limit` at a time, in order of start; resolves
 * when all have settled (a failing task does not stop the others). */
export async function runLimited<T>(items: T[], limit: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
	let next = 0;
	async function lane(): Promise<void> {
		while (next < items.length) {
			const index = next++;
			try {
				await task(items[index], index);
			} catch {
				// The task reports its own failure; the lane goes on with the next item.
			}
		}
	}
	await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

/** The reason a file cannot go into a dataset before it is sent, or null. */
export function refuseBeforeUpload(file: File, maxBytes: number | null): string | null {
	if (!DATASET_IMAGE_TYPES.includes(file.type)) return `${file.name} is not a PNG, JPEG or WebP image.`;
	if (maxBytes !== null && file.size > maxBytes)
		return `${file.name} is larger than the ${Math.round(maxBytes / 1e6)} MB an upload may be.`;
	return null;
}

/** Sends one image into a dataset, reporting the share of its bytes sent (0..1). */
export function uploadDatasetImage(
	datasetId: string,
	file: File,
	onProgress: (sent: number) => void,
	signal?: AbortSignal
): Promise<UploadOutcome> {
	return new Promise((resolve, reject) => {
		const xhr = new XMLHttpRequest();
		xhr.open('POST', `/v1/datasets/${encodeURIComponent(datasetId)}/images`);
		xhr.setRequestHeader('Content-Type', file.type);
		const csrf = currentCsrfToken();
		if (csrf) xhr.setRequestHeader('X-CSRF-Token', csrf);
		xhr.responseType = 'json';
		xhr.upload.onprogress = (event) => {
			if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
		};
		xhr.onload = () => {
			if (xhr.status === 401) reportUnauthorized();
			if (xhr.status === 200 || xhr.status === 201) {
				onProgress(1);
				const body = xhr.response as DatasetImage & { duplicate: boolean };
				resolve({ image: body, duplicate: body.duplicate });
			} else {
				reject(new Error(errorMessage(xhr.response, `Studio refused ${file.name} (${xhr.status}).`)));
			}
		};
		xhr.onerror = () => reject(new Error('Studio cannot be reached. Check that it is running, then try again.'));
		xhr.onabort = () => reject(new DOMException('cancelled', 'AbortError'));
		signal?.addEventListener('abort', () => xhr.abort(), { once: true });
		xhr.send(file);
	});
}
