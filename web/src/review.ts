// The review loop: comments a user leaves on diff lines, sent to the agent
// as one message (file:line, the quoted line, the comment), and the message
// that asks an agent to fix a merge conflict.
import type { DiffLine } from './diffparse';

export interface ReviewComment {
  key: string; // lineKey(): one comment per line
  path: string;
  line: number;
  removed: boolean; // on a removed line (line is the old file's)
  quote: string;
  text: string;
}

export function commentOn(path: string, l: DiffLine, key: string, text: string): ReviewComment {
  const removed = l.kind === 'del';
  return { key, path, line: (removed ? l.oldNo : l.newNo) ?? 0, removed, quote: l.text, text: text.trim() };
}

// Comments in file order, then line order; an empty one is dropped.
export function sortComments(list: ReviewComment[]): ReviewComment[] {
  return list.filter((c) => c.text !== '').sort((a, b) => (a.path === b.path ? a.line - b.line : a.path < b.path ? -1 : 1));
}

export function reviewMessage(list: ReviewComment[], against?: string): string {
  const cs = sortComments(list);
  const where = against ? ` (the diff against ${against})` : '';
  const parts = cs.map((c) => {
    const quote = c.quote.trim() === '' ? '>' : `> ${c.quote}`;
    return `${c.path}:${c.line}${c.removed ? ' (a removed line)' : ''}\n${quote}\n${c.text}`;
  });
  return `Review comments on your changes${where}. Please address each one:\n\n${parts.join('\n\n')}`;
}

// what: the refused action, a merge into or a rebase onto `into`.
export function conflictMessage(branch: string, into: string, files: string[], what: 'Merge' | 'Rebase' = 'Merge'): string {
  const list = files.length > 0 ? files.map((f) => `- ${f}`).join('\n') : '- (git did not name the files)';
  const action = what === 'Rebase' ? `Rebasing ${branch || 'your branch'} onto ${into}` : `Merging ${branch || 'your branch'} into ${into}`;
  return (
    `${action} conflicts in:\n${list}\n\n` +
    `Please bring ${into} into your branch (rebase onto it, or merge it), resolve these conflicts, ` +
    `and commit, so that the merge goes through cleanly.`
  );
}

// Unsent comments are kept by this browser per worktree, so a reload or a
// visit to another page does not lose a review half written.
const KEY = (worktreeId: string) => `agentd.review.${worktreeId}`;

interface Store {
  getItem(k: string): string | null;
  setItem(k: string, v: string): void;
  removeItem(k: string): void;
}

export function loadComments(worktreeId: string, store: Store | undefined = globalThis.localStorage): Record<string, ReviewComment> {
  try {
    const v = JSON.parse(store?.getItem(KEY(worktreeId)) || '{}');
    if (!v || typeof v !== 'object' || Array.isArray(v)) return {};
    const out: Record<string, ReviewComment> = {};
    for (const [k, c] of Object.entries(v as Record<string, any>)) {
      if (c && typeof c.path === 'string' && typeof c.text === 'string' && typeof c.line === 'number') {
        out[k] = { key: k, path: c.path, line: c.line, removed: !!c.removed, quote: String(c.quote ?? ''), text: c.text };
      }
    }
    return out;
  } catch {
    return {};
  }
}

export function saveComments(worktreeId: string, comments: Record<string, ReviewComment>, store: Store | undefined = globalThis.localStorage) {
  try {
    if (Object.keys(comments).length === 0) store?.removeItem(KEY(worktreeId));
    else store?.setItem(KEY(worktreeId), JSON.stringify(comments));
  } catch {
    /* full or private: kept for this page only */
  }
}
