// A conversation is a tree of messages (each names its parent); the screen shows one
// branch of it, from a root down to a leaf. Editing a message or regenerating an answer
// adds a sibling, and the user switches between siblings ("< 2/3 >").

export interface TreeNode {
	id: string;
	parent_id: string | null;
	created_at: string;
}

function byAge(a: TreeNode, b: TreeNode): number {
	return a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id < b.id ? -1 : 1;
}

export class MessageTree<T extends TreeNode> {
	private readonly byId = new Map<string, T>();
	private readonly childrenOf = new Map<string | null, T[]>();
	private readonly newestLeaf = new Map<string, T>();

	constructor(messages: Iterable<T>) {
		for (const message of messages) this.byId.set(message.id, message);
		for (const message of [...this.byId.values()].sort(byAge)) {
			// A message whose parent is not in the list (never expected) is shown as a root.
			const parent = message.parent_id !== null && this.byId.has(message.parent_id) ? message.parent_id : null;
			const siblings = this.childrenOf.get(parent) ?? [];
			siblings.push(message);
			this.childrenOf.set(parent, siblings);
		}
	}

	get size(): number {
		return this.byId.size;
	}

	get(id: string): T | undefined {
		return this.byId.get(id);
	}

	children(id: string | null): T[] {
		return this.childrenOf.get(id) ?? [];
	}

	/** The message and its siblings, oldest first (the message itself included). */
	siblings(id: string): T[] {
		const message = this.byId.get(id);
		if (!message) return [];
		const parent = message.parent_id !== null && this.byId.has(message.parent_id) ? message.parent_id : null;
		return this.children(parent);
	}

	/** The most recently written leaf under `id` (itself when it has no children). */
	leafUnder(id: string): T | undefined {
		const cached = this.newestLeaf.get(id);
		if (cached) return cached;
		const message = this.byId.get(id);
		if (!message) return undefined;
		let best: T = message;
		for (const child of this.children(id)) {
			const leaf = this.leafUnder(child.id);
			if (leaf && byAge(leaf, best) > 0) best = leaf;
		}
		this.newestLeaf.set(id, best);
		return best;
	}

	/** The newest leaf of the whole conversation: the branch shown by default. */
	newestLeafOverall(): T | undefined {
		let best: T | undefined;
		for (const root of this.children(null)) {
			const leaf = this.leafUnder(root.id);
			if (leaf && (!best || byAge(leaf, best) > 0)) best = leaf;
		}
		return best;
	}

	/** The branch from its root down to `leafId` (or the newest leaf), oldest first. An
	 * unknown leaf falls back to the newest one, so a stale link still shows something. */
	branch(leafId?: string | null): T[] {
		let node = (leafId ? this.byId.get(leafId) : undefined) ?? this.newestLeafOverall();
		const path: T[] = [];
		const seen = new Set<string>();
		while (node && !seen.has(node.id)) {
			seen.add(node.id);
			path.push(node);
			node = node.parent_id !== null ? this.byId.get(node.parent_id) : undefined;
		}
		return path.reverse();
	}

	/** The leaf to show after switching from `id` to its sibling `step` places away. */
	switchSibling(id: string, step: number): string | undefined {
		const siblings = this.siblings(id);
		const index = siblings.findIndex((m) => m.id === id);
		const target = siblings[index + step];
		return target ? this.leafUnder(target.id)?.id : undefined;
	}
}
