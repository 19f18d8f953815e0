// The one way the app reaches Studio: a typed client generated from /openapi.json
// (schema.d.ts), with the session cookie and, on unsafe requests, the CSRF token.
import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema';

export type Schemas = components['schemas'];
export type User = Schemas['User'];
export type Model = Schemas['Model'];
export type Conversation = Schemas['Conversation'];
export type Message = Schemas['Message'];
export type Generation = Schemas['Generation'];
export type Dataset = Schemas['Dataset'];
export type DatasetImage = Schemas['DatasetImage'];
export type TrainingRun = Schemas['TrainingRun'];
export type TrainedModel = Schemas['TrainedModel'];

/** What every 4xx/5xx of the API carries. */
export interface ApiErrorBody {
	error?: { code?: string; message?: string };
}

let csrfToken: string | null = null;
let onUnauthorized: (() => void) | null = null;

export function setCsrfToken(token: string | null): void {
	csrfToken = token;
}

/** For requests made outside this client: a 401 there means the session expired too. */
export function reportUnauthorized(): void {
	onUnauthorized?.();
}

/** The CSRF token, for the few requests made outside this client (an upload whose
 * progress the page shows goes through XMLHttpRequest: fetch reports none). */
export function currentCsrfToken(): string | null {
	return csrfToken;
}

/** Called when a request that needed a session gets 401: the session has expired. */
export function handleUnauthorized(callback: () => void): void {
	onUnauthorized = callback;
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
// Sign-in endpoints answer 401 for a wrong password: that is not an expired session.
const NO_SESSION_PATHS = ['/v1/auth/login', '/v1/auth/signup', '/v1/setup', '/v1/me/password', '/v1/me',
	'/v1/me/totp', '/v1/me/totp/recovery-codes'];

const session: Middleware = {
	onRequest({ request }) {
		if (!SAFE.has(request.method) && csrfToken) request.headers.set('X-CSRF-Token', csrfToken);
		return request;
	},
	onResponse({ request, response }) {
		const path = new URL(request.url).pathname;
		if (response.status === 401 && !NO_SESSION_PATHS.includes(path)) onUnauthorized?.();
		return response;
	}
};

export const api = createClient<paths>({
	baseUrl: globalThis.location?.origin ?? 'http://localhost',
	credentials: 'same-origin'
});
api.use(session);

/** A sentence for the user from an API error (or a network failure). */
export function errorMessage(error: unknown, fallback = 'Something went wrong. Try again.'): string {
	if (error && typeof error === 'object' && 'error' in error) {
		const message = (error as ApiErrorBody).error?.message;
		if (message) return message.charAt(0).toUpperCase() + message.slice(1);
	}
	if (error instanceof TypeError) return 'Studio cannot be reached. Check that it is running, then try again.';
	if (error instanceof Error && error.message) return error.message;
	return fallback;
}

/** Unwraps an openapi-fetch result: the data, or throws an Error with the API's message. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
	if (result.error !== undefined || !result.response.ok) {
		const err = new Error(errorMessage(result.error, `Request failed (${result.response.status}).`));
		(err as Error & { status?: number }).status = result.response.status;
		throw err;
	}
	return result.data as T;
}
