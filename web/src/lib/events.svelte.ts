// The user's live events (GET /v1/events): a generation that finishes or fails while the
// user is elsewhere shows as a toast, and pages that list generations refresh from it.
// Notifications arrive on the same stream and go to the bell.
import { page } from '$app/state';
import { notifications, type Notification } from './notifications.svelte';
import { toasts } from './toasts.svelte';

export interface GenerationEvent {
	generation_id: string;
	status: 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';
	progress: number;
	error: string | null;
	created_at: string;
}

/** A training run as it changes (`event: training`): its state, and the loss of each
 * step since the stream last sent this run (`losses.values` are steps from_step + 1...). */
export interface TrainingEvent {
	id: string;
	name: string | null;
	status: 'queued' | 'preparing' | 'training' | 'succeeded' | 'failed' | 'canceled';
	progress: number;
	current_step: number;
	total_steps: number;
	checkpoint_step: number;
	error: string | null;
	started_at: string | null;
	trained_model_id: string | null;
	samples: { step: number; media_id: string; url: string }[];
	losses: { from_step: number; values: number[] };
}

type Listener = (event: GenerationEvent) => void;
type TrainingListener = (event: TrainingEvent) => void;

class LiveEvents {
	private source: EventSource | null = null;
	private listeners = new Set<Listener>();
	private trainingListeners = new Set<TrainingListener>();
	/** Bumped on every event, for pages that simply reload. */
	version = $state(0);
	/** Bumped whenever the stream (re)opens: what was missed meanwhile is read again. */
	connections = $state(0);

	start(): void {
		if (this.source) return;
		// EventSource reconnects by itself and sends Last-Event-ID, so nothing is missed.
		this.source = new EventSource('/v1/events', { withCredentials: true });
		// Notifications are not replayed on reconnect: (re)read them whenever it opens.
		this.source.addEventListener('open', () => {
			this.connections++;
			void notifications.load();
		});
		this.source.addEventListener('training', (message) => {
			let event: TrainingEvent;
			try {
				event = JSON.parse((message as MessageEvent<string>).data);
			} catch {
				return;
			}
			for (const listener of this.trainingListeners) listener(event);
		});
		this.source.addEventListener('notification', (message) => {
			try {
				notifications.received(JSON.parse((message as MessageEvent<string>).data) as Notification);
			} catch {
				/* not JSON: ignore */
			}
		});
		this.source.addEventListener('generation', (message) => {
			let event: GenerationEvent;
			try {
				event = JSON.parse((message as MessageEvent<string>).data);
			} catch {
				return;
			}
			this.version++;
			for (const listener of this.listeners) listener(event);
			this.notify(event);
		});
	}

	stop(): void {
		this.source?.close();
		this.source = null;
		notifications.reset();
	}

	subscribe(listener: Listener): () => void {
		this.listeners.add(listener);
		return () => this.listeners.delete(listener);
	}

	subscribeTraining(listener: TrainingListener): () => void {
		this.trainingListeners.add(listener);
		return () => this.trainingListeners.delete(listener);
	}

	private notify(event: GenerationEvent): void {
		const here = page.url.pathname;
		// The page showing this generation already says so.
		if (here.includes(event.generation_id) || here.startsWith('/generate')) return;
		const href = `/gallery/${event.generation_id}`;
		if (event.status === 'succeeded') toasts.show('success', 'A generation is ready.', { href });
		else if (event.status === 'failed') toasts.show('error', `A generation failed: ${event.error ?? 'no reason given'}.`, { href });
	}
}

export const liveEvents = new LiveEvents();
