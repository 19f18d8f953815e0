// Short notices in a corner of the screen; they go away by themselves or when dismissed.
export interface Toast {
	id: number;
	kind: 'info' | 'success' | 'error';
	text: string;
	href?: string;
	action?: { label: string; run: () => void };
}

let next = 1;

class Toasts {
	items = $state<Toast[]>([]);

	show(kind: Toast['kind'], text: string, extra: Partial<Omit<Toast, 'id' | 'kind' | 'text'>> = {},
		seconds = 6): number {
		const id = next++;
		this.items = [...this.items, { id, kind, text, ...extra }].slice(-4);
		if (seconds > 0) setTimeout(() => this.dismiss(id), seconds * 1000);
		return id;
	}

	dismiss(id: number): void {
		this.items = this.items.filter((t) => t.id !== id);
	}
}

export const toasts = new Toasts();
