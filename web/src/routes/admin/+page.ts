import { redirect } from '@sveltejs/kit';

// /admin has no page of its own: its first tab is the connections.
export function load(): never {
	redirect(307, '/admin/connections');
}
