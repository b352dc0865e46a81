// The search box's results (issue #76): the best hits for the words typed
// (after a short pause), each its agent, kind, time and snippet with the
// matching words marked, linking to the message in its agent's transcript;
// arrow keys and Enter from the box, "More" for the next page. Snippets are
// rendered as text nodes and <mark>s (search.ts): never as HTML.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import type { RefObject } from 'preact';
import { ApiError, request } from '../api';
import { go } from '../router';
import { hitHref, KIND_LABEL, searchPath, snippetParts, type SearchAnswer, type SearchHit } from '../search';
import { ago } from './common';

const PAUSE_MS = 200;
const PAGE = 10;

export function Snippet({ hit }: { hit: Pick<SearchHit, 'snippet' | 'highlights'> }) {
  return <span class="search-snippet">{snippetParts(hit.snippet, hit.highlights).map((p, i) => (p.mark ? <mark key={i}>{p.text}</mark> : p.text))}</span>;
}

export default function SearchPanel({ q, input, onClose }: { q: string; input: RefObject<HTMLInputElement | null>; onClose: () => void }) {
  const hits = useSignal<SearchHit[]>([]);
  const next = useSignal<number | null>(null);
  const state = useSignal<'loading' | 'done' | 'error'>('loading');
  const error = useSignal('');
  const active = useSignal(0);

  const fetchPage = async (offset: number, signal?: AbortSignal) => {
    const a = await request<SearchAnswer>('GET', searchPath(q.trim(), { limit: PAGE, offset }), undefined, signal);
    hits.value = offset === 0 ? a.results : [...hits.value, ...a.results];
    next.value = a.nextOffset;
    state.value = 'done';
  };

  useEffect(() => {
    const ctl = new AbortController();
    state.value = 'loading';
    const t = setTimeout(() => {
      fetchPage(0, ctl.signal).catch((e) => {
        if (ctl.signal.aborted) return;
        state.value = 'error';
        error.value = e instanceof ApiError ? e.message : String(e);
      });
    }, PAUSE_MS);
    active.value = 0;
    return () => {
      clearTimeout(t);
      ctl.abort();
    };
  }, [q]);

  const open = (h: SearchHit) => {
    onClose();
    input.current?.blur();
    go(hitHref(h).slice(1));
  };

  useEffect(() => {
    const el = input.current;
    if (!el) return;
    const onKey = (e: KeyboardEvent) => {
      const n = hits.value.length;
      if (e.key === 'ArrowDown' && n) {
        e.preventDefault();
        active.value = (active.value + 1) % n;
      } else if (e.key === 'ArrowUp' && n) {
        e.preventDefault();
        active.value = (active.value + n - 1) % n;
      } else if (e.key === 'Enter' && n) {
        e.preventDefault();
        open(hits.value[Math.min(active.value, n - 1)]);
      }
    };
    el.addEventListener('keydown', onKey);
    return () => el.removeEventListener('keydown', onKey);
  }, [input.current]);

  return (
    <>
      <div class="search-scrim" onClick={onClose} />
      <div id="search-results" class="search-panel glass" role="listbox" aria-label="Search results" aria-busy={state.value === 'loading'}>
        {state.value === 'error' && <div class="search-empty error">{error.value}</div>}
        {state.value === 'loading' && hits.value.length === 0 && <div class="search-empty muted">Searching…</div>}
        {state.value === 'done' && hits.value.length === 0 && <div class="search-empty muted">No messages match.</div>}
        {hits.value.map((h, i) => (
          <a
            key={h.messageId}
            href={hitHref(h)}
            role="option"
            aria-selected={i === active.value}
            class={`search-hit${i === active.value ? ' active' : ''}`}
            data-message={h.messageId}
            onClick={(e) => {
              e.preventDefault();
              open(h);
            }}
            onMouseEnter={() => (active.value = i)}
          >
            <span class="search-hit-head">
              <span class="search-agent">{h.agentName}</span>
              <span class={`search-kind kind-${h.kind}`}>
                {h.toolName && h.kind !== 'message' ? `${KIND_LABEL[h.kind]} · ${h.toolName}` : KIND_LABEL[h.kind]}
              </span>
              <span class="search-time muted">{ago(h.createdAt)}</span>
            </span>
            <Snippet hit={h} />
          </a>
        ))}
        {next.value !== null && state.value === 'done' && (
          <button class="btn btn-sm search-more" onClick={() => void fetchPage(next.value!).catch(() => (state.value = 'error'))}>
            More
          </button>
        )}
      </div>
    </>
  );
}
