// The command palette (issue #76; Ctrl+K or ⌘K anywhere): one box that goes
// to a page, to an agent by its name, or to a message of any transcript the
// session may see (GET /api/search, after a short pause). Arrow keys and
// Enter, or a click; Esc closes. Loaded when first opened (SearchBox.tsx
// holds the key). Snippets are text and <mark>s, never HTML (search.ts).
import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { ApiError, request } from '../api';
import { go } from '../router';
import { hitHref, KIND_LABEL, searchPath, type SearchAnswer, type SearchHit } from '../search';
import { PAGES } from '../shell';
import { agentList } from '../store';
import { Snippet } from './SearchPanel';

const PAUSE_MS = 200;

type Item = { key: string; href: string; label: string; hint: string; hit?: SearchHit };

export default function CommandPalette({ onClose }: { onClose: () => void }) {
  const q = useSignal('');
  const hits = useSignal<SearchHit[]>([]);
  const searching = useSignal(false);
  const error = useSignal('');
  const active = useSignal(0);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);

  const words = q.value.trim();
  useEffect(() => {
    hits.value = [];
    error.value = '';
    if (words.length < 2) return;
    const ctl = new AbortController();
    searching.value = true;
    const t = setTimeout(() => {
      request<SearchAnswer>('GET', searchPath(words, { limit: 8 }), undefined, ctl.signal)
        .then((a) => (hits.value = a.results))
        .catch((e) => {
          if (!ctl.signal.aborted) error.value = e instanceof ApiError ? e.message : String(e);
        })
        .finally(() => {
          if (!ctl.signal.aborted) searching.value = false;
        });
    }, PAUSE_MS);
    return () => {
      clearTimeout(t);
      ctl.abort();
    };
  }, [words]);

  const low = words.toLowerCase();
  const items: Item[] = [
    ...PAGES.filter((p) => !low || p.label.toLowerCase().includes(low)).map((p) => ({ key: `page-${p.key}`, href: p.href, label: p.label, hint: 'page' })),
    ...(low
      ? agentList.value
          .filter((a) => !a.deletedAt && a.name.toLowerCase().includes(low))
          .slice(0, 6)
          .map((a) => ({ key: `agent-${a.id}`, href: `#/agents/${a.id}`, label: a.name, hint: 'agent' }))
      : []),
    ...hits.value.map((h) => ({ key: `hit-${h.messageId}`, href: hitHref(h), label: h.agentName, hint: KIND_LABEL[h.kind], hit: h })),
  ];
  const at = Math.min(active.value, Math.max(0, items.length - 1));

  const open = (it: Item) => {
    onClose();
    go(it.href.slice(1));
  };
  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      onClose();
    } else if (e.key === 'ArrowDown' && items.length) {
      e.preventDefault();
      active.value = (at + 1) % items.length;
    } else if (e.key === 'ArrowUp' && items.length) {
      e.preventDefault();
      active.value = (at + items.length - 1) % items.length;
    } else if (e.key === 'Enter' && items.length) {
      e.preventDefault();
      open(items[at]);
    }
  };

  return (
    <div class="palette-scrim" onClick={onClose}>
      <div class="palette glass" role="dialog" aria-modal="true" aria-label="Command palette" onClick={(e) => e.stopPropagation()}>
        <input
          ref={input}
          class="palette-input"
          type="search"
          placeholder="Go to a page or an agent, or search transcripts…"
          aria-label="Command palette"
          aria-controls="palette-list"
          autocomplete="off"
          spellcheck={false}
          maxLength={256}
          value={q.value}
          onInput={(e) => {
            q.value = e.currentTarget.value;
            active.value = 0;
          }}
          onKeyDown={onKey}
        />
        <div id="palette-list" class="palette-list" role="listbox" aria-busy={searching.value}>
          {items.map((it, i) => (
            <a
              key={it.key}
              href={it.href}
              role="option"
              aria-selected={i === at}
              class={`palette-item${it.hit ? ' search-hit' : ''}${i === at ? ' active' : ''}`}
              data-message={it.hit?.messageId}
              onClick={(e) => {
                e.preventDefault();
                open(it);
              }}
              onMouseEnter={() => (active.value = i)}
            >
              <span class="search-hit-head">
                <span class="search-agent">{it.label}</span>
                <span class="search-kind">{it.hint}</span>
              </span>
              {it.hit && <Snippet hit={it.hit} />}
            </a>
          ))}
          {words.length >= 2 && !searching.value && !error.value && hits.value.length === 0 && <div class="search-empty muted">No messages match.</div>}
          {error.value && <div class="search-empty error">{error.value}</div>}
        </div>
      </div>
    </div>
  );
}
