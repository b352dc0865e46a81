// Search (issue #76): GET /api/search's answer, and a snippet cut into its
// plain and matching parts by the ranges the daemon gives (UTF-16 offsets,
// end exclusive). The parts are text: the dashboard renders them as text
// nodes and <mark>s, never as HTML, so nothing in a message can inject markup.
import type { SearchHitRow } from './rows';

/** A hit as schema/rows.def has it, its highlights read as ranges. */
export interface SearchHit extends Omit<SearchHitRow, 'highlights'> {
  highlights: [number, number][];
}

export interface SearchAnswer {
  results: SearchHit[];
  nextOffset: number | null;
}

export interface SnippetPart {
  text: string;
  mark: boolean;
}

/** The snippet as parts in order; ranges out of order, overlapping or past
 * the end are clipped, so any answer gives the whole text exactly once. */
export function snippetParts(snippet: string, highlights: readonly (readonly [number, number])[]): SnippetPart[] {
  const out: SnippetPart[] = [];
  let at = 0;
  const ranges = [...(highlights || [])].filter((r) => Array.isArray(r) && r.length === 2).sort((a, b) => a[0] - b[0]);
  for (const [s0, e0] of ranges) {
    const s = Math.max(at, Math.min(snippet.length, Math.floor(s0)));
    const e = Math.max(s, Math.min(snippet.length, Math.floor(e0)));
    if (e <= s) continue;
    if (s > at) out.push({ text: snippet.slice(at, s), mark: false });
    out.push({ text: snippet.slice(s, e), mark: true });
    at = e;
  }
  if (at < snippet.length || out.length === 0) out.push({ text: snippet.slice(at), mark: false });
  return out;
}

/** The search's query string for q and the filters. */
export function searchPath(q: string, opts: { limit?: number; offset?: number; agent?: string; worktree?: string } = {}): string {
  const p = new URLSearchParams({ q });
  if (opts.limit) p.set('limit', String(opts.limit));
  if (opts.offset) p.set('offset', String(opts.offset));
  if (opts.agent) p.set('agent', opts.agent);
  if (opts.worktree) p.set('worktree', opts.worktree);
  return `/api/search?${p.toString()}`;
}

/** Where a hit opens: its agent's transcript at the message. */
export function hitHref(h: Pick<SearchHit, 'agentId' | 'messageId'>): string {
  return `#/agents/${encodeURIComponent(h.agentId)}/m/${encodeURIComponent(h.messageId)}`;
}

export const KIND_LABEL: Record<SearchHit['kind'], string> = {
  message: 'message',
  tool_call: 'tool call',
  tool_output: 'tool output',
};
