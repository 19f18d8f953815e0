// Who is signed in, kept for the whole app. The session itself is the HttpOnly cookie
// the API sets; the app keeps only the user and the CSRF token the API hands out with it.
import { goto } from '$app/navigation';
import { api, handleUnauthorized, setCsrfToken, type User } from './api/client';

export const PUBLIC_PATHS = ['/login', '/signup', '/setup'];

class Session {
	user = $state<User | null>(null);
	/** False until the first GET /v1/me has answered. */
	known = $state(false);
	/** Set when the session ended under the user (401), so the login page can say why. */
	expired = $state(false);
	/** Set by a sign-out the user asked for: the login page then remembers no page to return to. */
	signedOut = $state(false);

	get isAdmin(): boolean {
		return this.user?.role === 'admin';
	}

	async load(): Promise<void> {
		const { data, response } = await api.GET('/v1/me');
		if (response.ok && data) this.signedIn(data.user, data.csrf_token ?? null);
		else this.clear();
		this.known = true;
	}

	signedIn(user: User, csrf: string | null): void {
		this.user = user;
		setCsrfToken(csrf);
		this.expired = false;
		this.signedOut = false;
		this.known = true;
	}

	clear(): void {
		this.user = null;
		setCsrfToken(null);
	}

	async logout(): Promise<void> {
		await api.POST('/v1/auth/logout').catch(() => undefined);
		this.signedOut = true;
		this.clear();
		await goto('/login', { replaceState: true });
	}
}

export const session = new Session();

/** Where to send someone who must sign in first, remembering where they were. */
export function loginUrl(from: URL): string {
	const back = from.pathname + from.search + from.hash;
	return back === '/' || PUBLIC_PATHS.includes(from.pathname) ? '/login' : `/login?next=${encodeURIComponent(back)}`;
}

/** Only same-app paths are followed after sign-in (no open redirect). */
export function safeNext(next: string | null): string {
	return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/chat';
}

handleUnauthorized(() => {
	if (!session.user) return;
	session.clear();
	session.expired = true;
	void goto(loginUrl(new URL(location.href)), { replaceState: true });
});
