// The user's notifications (GET /v1/notifications) for the bell in the top bar: loaded
// once signed in and again whenever the live stream (re)connects, and kept current by
// the `notification` events of /v1/events in between.
import { api, unwrap, type Schemas } from './api/client';

export type Notification = Schemas['Notification'];

const SHOWN = 20;

class Notifications {
	items = $state<Notification[]>([]);
	unread = $state(0);
	loaded = $state(false);
	error = $state('');
	private loads = 0; // the answer of the newest load wins

	async load(): Promise<void> {
		const mine = ++this.loads;
		try {
			const page = unwrap(await api.GET('/v1/notifications', { params: { query: { limit: SHOWN } } }));
			if (mine !== this.loads) return;
			this.items = page.items;
			this.unread = page.unread_count;
			this.loaded = true;
			this.error = '';
		} catch (e) {
			if (mine === this.loads) this.error = e instanceof Error ? e.message : 'Notifications could not be loaded.';
		}
	}

	/** One that arrived over the live stream. */
	received(notification: Notification): void {
		if (this.items.some((n) => n.id === notification.id)) return;
		this.items = [notification, ...this.items].slice(0, SHOWN);
		if (!notification.read_at) this.unread++;
	}

	async markRead(id: string): Promise<void> {
		const item = this.items.find((n) => n.id === id);
		if (!item || item.read_at) return;
		unwrap(await api.POST('/v1/notifications/{notification_id}/read', { params: { path: { notification_id: id } } }));
		this.items = this.items.map((n) => (n.id === id ? { ...n, read_at: new Date().toISOString() } : n));
		this.unread = Math.max(0, this.unread - 1);
	}

	async markAllRead(): Promise<void> {
		unwrap(await api.POST('/v1/notifications/read-all'));
		const now = new Date().toISOString();
		this.items = this.items.map((n) => (n.read_at ? n : { ...n, read_at: now }));
		this.unread = 0;
	}

	async remove(id: string): Promise<void> {
		const item = this.items.find((n) => n.id === id);
		unwrap(await api.DELETE('/v1/notifications/{notification_id}', { params: { path: { notification_id: id } } }));
		this.items = this.items.filter((n) => n.id !== id);
		if (item && !item.read_at) this.unread = Math.max(0, this.unread - 1);
	}

	reset(): void {
		this.items = [];
		this.unread = 0;
		this.loaded = false;
		this.loads++;
	}
}

/** Where a notification leads: the generation it is about, if any. */
export function notificationHref(notification: Notification): string | null {
	const id = notification.data?.generation_id;
	return typeof id === 'string' ? `/gallery/${id}` : null;
}

export const notifications = new Notifications();
