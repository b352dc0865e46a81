// The header's search box (issue #76): words typed here search every
// transcript the caller can see (GET /api/search). The box is small and in
// the first load; the results panel (SearchPanel.tsx) loads with the first
// query. "/" anywhere outside a text field focuses it. PaletteHost holds
// Ctrl+K / ⌘K, which opens the command palette (CommandPalette.tsx, loaded
// when first opened).
import { useSignal } from '@preact/signals';
import { lazy, Suspense } from 'preact/compat';
import { useEffect, useRef } from 'preact/hooks';

const SearchPanel = lazy(() => import('./SearchPanel'));
const CommandPalette = lazy(() => import('./CommandPalette'));

export function PaletteHost() {
  const open = useSignal(false);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === 'k') {
        e.preventDefault();
        open.value = !open.value;
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);
  if (!open.value) return null;
  return (
    <Suspense fallback={null}>
      <CommandPalette onClose={() => (open.value = false)} />
    </Suspense>
  );
}

export function SearchBox() {
  const q = useSignal('');
  const open = useSignal(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      const typing = t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable);
      if (e.key === '/' && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) {
        e.preventDefault();
        input.current?.focus();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);
  const close = () => {
    open.value = false;
  };
  return (
    <div class="searchbox" role="search">
      <input
        ref={input}
        type="search"
        class="searchbox-input"
        placeholder="Search transcripts  /"
        aria-label="Search transcripts"
        aria-expanded={open.value && q.value.trim() !== ''}
        aria-controls="search-results"
        autocomplete="off"
        spellcheck={false}
        maxLength={256}
        value={q.value}
        onInput={(e) => {
          q.value = e.currentTarget.value;
          open.value = true;
        }}
        onFocus={() => (open.value = true)}
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            open.value = false;
            input.current?.blur();
          }
        }}
      />
      {open.value && q.value.trim() !== '' && (
        <Suspense fallback={null}>
          <SearchPanel q={q.value} input={input} onClose={close} />
        </Suspense>
      )}
    </div>
  );
}
