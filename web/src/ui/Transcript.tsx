// The transcript: grouped messages, collapsible tool calls and the live
// output still streaming in, rendered through a window so only the rows
// on screen exist in the DOM (10,000 messages stay smooth). Keeps the view
// pinned to the bottom while new output arrives unless the user scrolled up,
// and loads older pages when scrolled to the top.
import { useSignal } from '@preact/signals';
import { memo } from 'preact/compat';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { awaitsApproval, formatDuration, type Transcript as T } from '../events';
import { groupMessages, type Row } from '../grouping';
import { renderMarkdown } from '../markdown';
import type { Approval, Message } from '../types';
import { fmtInt, fmtTime } from './common';
import { computeOffsets, pruneHeights, visibleRange } from '../virtual';

const ESTIMATE = 64;
// Pages of older messages loaded at most to find a focused message.
const FOCUS_PAGES = 40;

function pretty(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') {
    try {
      return JSON.stringify(JSON.parse(v), null, 2);
    } catch {
      return v;
    }
  }
  try {
    return JSON.stringify(v, null, 2);
  } catch {
    return String(v);
  }
}

function summary(v: unknown): string {
  const s = typeof v === 'string' ? v : v == null ? '' : JSON.stringify(v);
  return s.length > 90 ? s.slice(0, 90) + '…' : s;
}

const Markdown = memo(function Markdown({ text }: { text: string }) {
  const html = useMemo(() => renderMarkdown(text), [text]);
  // renderMarkdown escapes every input character; see markdown.ts.
  return <div class="md" dangerouslySetInnerHTML={{ __html: html }} />;
});

function roleLabel(role: string): string {
  if (role === 'user') return 'You';
  if (role === 'assistant') return 'Agent';
  if (role === 'system') return 'System';
  return role;
}

function MessageRow({ msg, first }: { msg: Message; first: boolean }) {
  return (
    <div class={`msg msg-${msg.role}${first ? ' first' : ''}`} data-id={msg.id}>
      {first && (
        <div class="msg-head">
          <span class="msg-role">{roleLabel(msg.role)}</span>
          <span class="msg-time">{fmtTime(msg.createdAt)}</span>
        </div>
      )}
      <div class="msg-body">
        <Markdown text={msg.content || ''} />
        {msg.isComplete === false && <span class="caret" aria-hidden="true" />}
      </div>
      {msg.tokenCount ? <div class="msg-meta">{fmtInt(msg.tokenCount)} tokens</div> : null}
    </div>
  );
}

function ToolRow({ call, result, open, onToggle, waiting }: { call: Message; result: Message | null; open: boolean; onToggle: () => void; waiting: boolean }) {
  const output = result ? result.toolOutput : call.toolOutput;
  const done = (output !== undefined && output !== null) || (result || call).isComplete !== false;
  const anyCall = call as any;
  let dur: number | null = typeof anyCall.durationMs === 'number' ? anyCall.durationMs : null;
  if (dur === null && result) {
    const d = Date.parse(result.createdAt) - Date.parse(call.createdAt);
    if (Number.isFinite(d) && d >= 0) dur = d;
  }
  const isErr = !!(anyCall.isError || (result as any)?.isError);
  return (
    <div class={`tool${open ? ' open' : ''}${isErr ? ' tool-error' : ''}`} data-id={call.id}>
      <button class="tool-head" aria-expanded={open} onClick={onToggle}>
        <span class="chev" aria-hidden="true">
          {open ? '▾' : '▸'}
        </span>
        <span class="tool-name">{call.toolName || 'tool'}</span>
        <span class="tool-sum">{summary(call.toolInput ?? call.content)}</span>
        <span class={`tool-state ${isErr ? 'failed' : done ? 'done' : waiting ? 'awaiting' : 'running'}`}>
          {isErr ? 'failed' : done ? (dur !== null ? formatDuration(dur) : 'done') : waiting ? 'waiting for approval' : 'running…'}
        </span>
      </button>
      {isErr && !open && done && <div class="tool-preview">{summary(output)}</div>}
      {open && (
        <div class="tool-body">
          <div class="tool-label">Input</div>
          <pre>{pretty(call.toolInput ?? call.content)}</pre>
          <div class="tool-label">Output</div>
          <pre>{done ? pretty(output) : '(no output yet)'}</pre>
        </div>
      )}
    </div>
  );
}

function LiveRow({ row }: { row: Extract<Row, { kind: 'live' }> }) {
  const c = row.chunk;
  // Token deltas (an open chunk) are the agent's prose; complete lines are output.
  const prose = c.stream === 'assistant' || c.stream === 'text' || c.open;
  return (
    <div class={`msg msg-live msg-assistant${row.first ? ' first' : ''}`} data-live-seq={c.seq}>
      {row.first && (
        <div class="msg-head">
          <span class="msg-role">Agent</span>
          <span class="msg-time live-tag">{c.open ? 'streaming' : 'output'}</span>
        </div>
      )}
      <div class={`msg-body${c.stream === 'stderr' ? ' stderr' : ''}`}>
        {prose ? <Markdown text={c.text} /> : <pre class="out">{c.text}</pre>}
        {c.open && <span class="caret" aria-hidden="true" />}
      </div>
    </div>
  );
}

// pending: the agent's approvals still waiting for a decision (a tool card
// they hold says so instead of running…).
// onFollow: told whether the list is scrolled to its end, as the transcript
// changes and as it scrolls; the store reads the newest stored page when
// enough has streamed while it is (store.ts, followTranscript).
export function Transcript({
  t,
  onLoadOlder,
  onFollow,
  pending = [],
  focus,
}: {
  t: T | undefined;
  onLoadOlder: () => Promise<void>;
  onFollow?: (atEnd: boolean) => void;
  pending?: readonly Approval[];
  /** A message to scroll to and mark (a search hit's link): older pages are
   * loaded until it is there, at most FOCUS_PAGES of them. */
  focus?: string;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const heights = useRef(new Map<string, number>());
  const [view, setView] = useState({ top: 0, height: 600 });
  // Bumped when a rendered row's measured height changed: the offsets
  // below depend on it, so a row that grows (a tool card opened, an image
  // loaded) pushes the rows after it down at once.
  const [measured, setMeasured] = useState(0);
  const expanded = useSignal<Set<string>>(new Set());
  const atBottom = useRef(true);
  const loadingOlder = useRef(false);
  const rows = useMemo(() => groupMessages(t?.messages || [], t?.live || []), [t?.messages, t?.live]);
  useEffect(() => void pruneHeights(heights.current, rows.length, (i) => rows[i].key), [rows]);
  useEffect(() => {
    if (atBottom.current) onFollow?.(true);
  }, [t]);
  const offsets = useMemo(() => computeOffsets(rows.length, (i) => heights.current.get(rows[i].key) ?? ESTIMATE), [rows, view, measured]);
  const total = offsets[rows.length] || 0;
  const { start, end } = visibleRange(offsets, view.top, view.height, 8);

  // Measure rendered rows; a changed height re-lays out the window.
  const ro = useMemo(
    () =>
      typeof ResizeObserver === 'undefined'
        ? null
        : new ResizeObserver((entries) => {
            let changed = false;
            for (const e of entries) {
              const key = (e.target as HTMLElement).dataset.key!;
              const h = Math.ceil((e.target as HTMLElement).offsetHeight);
              if (h && heights.current.get(key) !== h) {
                heights.current.set(key, h);
                changed = true;
              }
            }
            if (changed) setMeasured((n) => n + 1);
          }),
    [],
  );
  useEffect(() => () => ro?.disconnect(), [ro]);
  const observed = useRef(new Set<HTMLElement>());
  useLayoutEffect(() => {
    for (const el of observed.current)
      if (!el.isConnected) {
        ro?.unobserve(el);
        observed.current.delete(el);
      }
  });

  const prevTotal = useRef(0);
  const prevFirstKey = useRef<string | null>(null);
  // Where this effect last left the list: a render that comes between a
  // scroll up and its scroll event (the browser sends it with the next
  // frame) would otherwise pin the list to its end again, and the user's
  // scroll would be lost. A list cut from the top or made taller is moved
  // by the browser too, but stays at its end.
  const drawnTop = useRef(0);
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const firstKey = rows.length ? rows[0].key : null;
    if (atBottom.current && el.scrollTop < drawnTop.current - 48 && el.scrollTop + el.clientHeight < el.scrollHeight - 48) {
      atBottom.current = false;
      onFollow?.(false);
    }
    if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    } else if (prevFirstKey.current && firstKey !== prevFirstKey.current) {
      // Older rows were added above: keep what the user was reading in place.
      el.scrollTop += total - prevTotal.current;
    }
    prevTotal.current = total;
    prevFirstKey.current = firstKey;
    drawnTop.current = el.scrollTop;
  });

  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const update = () => setView({ top: el.scrollTop, height: el.clientHeight });
    update();
    const r = typeof ResizeObserver !== 'undefined' ? new ResizeObserver(update) : null;
    r?.observe(el);
    return () => r?.disconnect();
  }, []);

  // The focused message: its row once loaded, scrolled to and marked.
  const focused = useSignal<string | null>(null);
  const focusPages = useRef(0);
  useEffect(() => {
    focusPages.current = 0;
    focused.value = null;
  }, [focus]);
  useLayoutEffect(() => {
    if (!focus || focused.value === focus) return;
    const i = rows.findIndex((r) => (r.kind === 'message' ? r.msg.id === focus : r.kind === 'tool' ? r.call.id === focus || r.result?.id === focus : false));
    const el = scroller.current;
    if (i >= 0 && el) {
      focused.value = focus;
      atBottom.current = false;
      onFollow?.(false);
      el.scrollTop = Math.max(0, offsets[i] - 80);
      setView({ top: el.scrollTop, height: el.clientHeight });
    } else if (i < 0 && t?.hasMore && !loadingOlder.current && focusPages.current < FOCUS_PAGES) {
      focusPages.current++;
      loadingOlder.current = true;
      onLoadOlder().finally(() => (loadingOlder.current = false));
    }
  }, [focus, rows, offsets]);

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return; // a scroll event that comes after the transcript left the page
    atBottom.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 48;
    setView({ top: el.scrollTop, height: el.clientHeight });
    onFollow?.(atBottom.current);
    if (el.scrollTop < 300 && t?.hasMore && !loadingOlder.current) {
      loadingOlder.current = true;
      onLoadOlder().finally(() => (loadingOlder.current = false));
    }
  };

  const toggle = (key: string) => {
    const s = new Set(expanded.value);
    if (s.has(key)) s.delete(key);
    else s.add(key);
    expanded.value = s;
  };

  const items = [];
  for (let i = start; i < end; i++) {
    const r = rows[i];
    items.push(
      <div
        key={r.key}
        data-key={r.key}
        class={`row${focused.value && (r.kind === 'message' ? r.msg.id : r.kind === 'tool' ? r.call.id : '') === focused.value ? ' row-focus' : ''}`}
        style={{ transform: `translateY(${offsets[i]}px)` }}
        ref={(el) => {
          if (el && ro && !observed.current.has(el)) {
            observed.current.add(el);
            ro.observe(el);
          }
        }}
      >
        {r.kind === 'message' && <MessageRow msg={r.msg} first={r.first} />}
        {r.kind === 'tool' && (
          <ToolRow
            call={r.call}
            result={r.result}
            open={expanded.value.has(r.key)}
            onToggle={() => toggle(r.key)}
            waiting={pending.length > 0 && awaitsApproval(r.call, pending)}
          />
        )}
        {r.kind === 'live' && <LiveRow row={r} />}
      </div>,
    );
  }

  return (
    <div class="transcript" ref={scroller} onScroll={onScroll} tabIndex={0} aria-label="Transcript" role="log" aria-live="polite" data-rows={rows.length}>
      {t?.hasMore && <div class="muted small center older">Scroll up for older messages…</div>}
      <div class="rows" style={{ height: `${total}px` }}>
        {items}
      </div>
    </div>
  );
}
