import { describe, expect, it } from 'vitest';
import { MessageTree, type TreeNode } from '../src/lib/tree';

let clock = 0;
function msg(id: string, parent: string | null): TreeNode {
	clock += 1;
	return { id, parent_id: parent, created_at: new Date(Date.UTC(2026, 0, 1, 0, 0, clock)).toISOString() };
}

// q1 → a1 → q2 → a2, then q1 is answered again (a1b), then q2 is edited (q2b → a3).
function conversation() {
	clock = 0;
	return [msg('q1', null), msg('a1', 'q1'), msg('q2', 'a1'), msg('a2', 'q2'), msg('a1b', 'q1'),
		msg('q2b', 'a1'), msg('a3', 'q2b')];
}

const ids = (nodes: TreeNode[]) => nodes.map((n) => n.id);

describe('MessageTree', () => {
	it('shows the branch of the newest message by default', () => {
		const tree = new MessageTree(conversation());
		expect(ids(tree.branch())).toEqual(['q1', 'a1', 'q2b', 'a3']);
	});

	it('follows a given leaf up to its root', () => {
		const tree = new MessageTree(conversation());
		expect(ids(tree.branch('a2'))).toEqual(['q1', 'a1', 'q2', 'a2']);
		expect(ids(tree.branch('a1b'))).toEqual(['q1', 'a1b']);
	});

	it('falls back to the newest branch for an unknown leaf', () => {
		const tree = new MessageTree(conversation());
		expect(ids(tree.branch('gone'))).toEqual(['q1', 'a1', 'q2b', 'a3']);
	});

	it('lists siblings oldest first, whatever order the messages come in', () => {
		const tree = new MessageTree(conversation().reverse());
		expect(ids(tree.siblings('a1b'))).toEqual(['a1', 'a1b']);
		expect(ids(tree.siblings('q2'))).toEqual(['q2', 'q2b']);
		expect(ids(tree.siblings('q1'))).toEqual(['q1']);
	});

	it('switches to a sibling and shows the newest leaf under it', () => {
		const tree = new MessageTree(conversation());
		expect(tree.switchSibling('a1b', -1)).toBe('a3');
		expect(tree.switchSibling('a1', 1)).toBe('a1b');
		expect(tree.switchSibling('q2b', -1)).toBe('a2');
		expect(tree.switchSibling('q2b', 1)).toBeUndefined();
		expect(tree.switchSibling('q1', -1)).toBeUndefined();
	});

	it('treats a message whose parent is missing as a root, and survives a cycle', () => {
		clock = 0;
		const tree = new MessageTree([msg('orphan', 'nowhere'), msg('x', 'y'), msg('y', 'x')]);
		expect(ids(tree.children(null))).toEqual(['orphan']);
		expect(ids(tree.branch('x'))).toEqual(['y', 'x']);
	});

	it('is empty without messages', () => {
		const tree = new MessageTree([]);
		expect(tree.branch()).toEqual([]);
		expect(tree.newestLeafOverall()).toBeUndefined();
	});
});
