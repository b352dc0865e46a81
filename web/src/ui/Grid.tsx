// The grid (#/grid, issue #14): the agents side by side, 1-4 columns by
// width, each tile with its status, whether it waits for an approval, and
// the live tail of its output. Keys: arrows or h j k l move between tiles
// (j/k step through them in order), 1-9 go to tile N, Enter opens the
// agent, Esc goes back (and from an agent opened here, back to the grid),
// y / n allow / deny the selected tile's oldest approval, ? shows the keys.
// Loaded when first opened.
import { computed, signal, useSignal } from '@preact/signals';
import { useEffect, useLayoutEffect, useMemo, useRef } from 'preact/hooks';
import { api } from '../api';
import { fromGrid, go } from '../router';
import { agentList, forgetTiles, model, seedTiles, toastError, worktrees } from '../store';
import { decisionKey, gridColumns, gridMove, tailLines, typingIn } from '../tasks';
import type { Transcript } from '../events';
import type { Agent, Approval } from '../types';
import { AgentBadge, AgentCost, AgentSummary, Empty, Modal } from './common';

const MAX_TILES = 24; // tiles whose stored messages are read at once

function tileText(t: Transcript | undefined): string[] {
  if (!t) return [];
  const parts: string[] = [];
  for (const m of t.messages.slice(-12)) {
    if (m.role === 'user') parts.push(`› ${m.content}`);
    else if (m.role === 'tool' || m.toolName) parts.push(`⚙ ${m.toolName || 'tool'}${m.isError ? ' (failed)' : ''}`);
    else parts.push(m.content);
  }
  // A chunk already in a loaded message (the transcript came after it) is said once.
  const recent = t.messages.slice(-12);
  for (const c of t.live.slice(-8))
    if (!recent.some((m) => (m.runId ?? null) === c.runId && typeof m.content === 'string' && m.content.includes(c.text))) parts.push(c.text);
  return tailLines(parts.join('\n'), 8, 160);
}

function Tile({ a, n, selected, pending, onPick }: { a: Agent; n: number; selected: boolean; pending: number; onPick: () => void }) {
  const wt = (worktrees.value || []).find((w) => w.id === a.worktreeId);
  // The live status says so; after a reload the stored approvals do.
  const approval = a.status === 'waiting' && (a.reason === 'approval' || pending > 0);
  // This tile's transcript through a computed: another agent's line does
  // not draw this tile again.
  const tr = useMemo(() => computed(() => model.value.transcripts[a.id]), [a.id]);
  const lines = useMemo(() => tileText(tr.value), [tr.value]);
  return (
    <article
      class={`tile glass${selected ? ' selected' : ''}${approval ? ' needs-approval' : ''}`}
      data-agent={a.id}
      data-index={n}
      tabIndex={selected ? 0 : -1}
      aria-label={`${n}. ${a.name}, ${a.status}${approval ? ', needs approval' : ''}`}
      onClick={onPick}
      onDblClick={() => {
        fromGrid.value = true;
        go(`/agents/${a.id}`);
      }}
    >
      <header class="tile-head">
        {n <= 9 && <kbd class="tile-n">{n}</kbd>}
        <a class="tile-name" href={`#/agents/${a.id}`} tabIndex={-1} onClick={() => (fromGrid.value = true)}>
          {a.name}
        </a>
        <AgentBadge a={a} small />
      </header>
      <div class="tile-sub muted small">
        {wt?.name || a.worktreeId} · {a.executor || 'claude'}
        {(a.costUsd ?? 0) > 0 && (
          <>
            {' '}
            · <AgentCost a={a} />
          </>
        )}
      </div>
      <AgentSummary a={a} cls="tile" />
      {approval && (
        <div class="tile-approval" role="status">
          ⚠ Needs approval{pending > 1 ? ` (${pending})` : ''}
          {selected && (
            <span class="muted small">
              {' '}
              · <kbd>y</kbd> allow · <kbd>n</kbd> deny
            </span>
          )}
        </div>
      )}
      <pre class="tile-tail" aria-live="off">
        {lines.length ? lines.join('\n') : ' '}
      </pre>
    </article>
  );
}

function GridHelp({ onClose }: { onClose: () => void }) {
  const keys: [string, string][] = [
    ['← → ↑ ↓  or  h j k l', 'move between tiles (j / k: next / previous)'],
    ['1 … 9', 'go to tile N'],
    ['Enter', 'open the agent'],
    ['y  /  n', "allow / deny the selected agent's oldest approval"],
    ['Esc', 'on an agent opened from here: back to the grid; here: let go of the tile'],
    ['?', 'this help'],
  ];
  return (
    <Modal title="Grid keys" onClose={onClose}>
      <table class="table keys">
        <tbody>
          {keys.map(([k, v]) => (
            <tr key={k}>
              <td>
                <kbd>{k}</kbd>
              </td>
              <td>{v}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Modal>
  );
}

const LIVE = new Set(['running', 'waiting', 'paused']);
const liveOnly = signal(false); // kept while the page is open in this tab

export default function Grid() {
  const agents = agentList.value.filter((a) => !a.deletedAt && (!liveOnly.value || LIVE.has(a.status)));
  const sel = useSignal(0);
  const cols = useSignal(3);
  const help = useSignal(false);
  const host = useRef<HTMLDivElement>(null);
  const ids = agents.map((a) => a.id).join(',');
  const n = agents.length;
  const i = Math.min(sel.value, Math.max(0, n - 1));

  // Each tile's last stored messages, read while the grid is open.
  useEffect(() => forgetTiles, []);
  useEffect(() => seedTiles(agents.slice(0, MAX_TILES).map((a) => a.id)), [ids]);

  // Pending approvals of the waiting agents, reloaded on every approval event.
  const pending = useSignal<Record<string, Approval[]>>({});
  const waitKey = agents
    .filter((a) => a.status === 'waiting')
    .slice(0, MAX_TILES)
    .map((a) => `${a.id}:${a.approvalsRev ?? 0}`)
    .join(',');
  const loadPending = (id: string) =>
    api
      .approvals(id)
      .then((l) => (pending.value = { ...pending.value, [id]: l }))
      .catch(() => undefined);
  useEffect(() => {
    for (const a of agents.filter((x) => x.status === 'waiting').slice(0, MAX_TILES)) void loadPending(a.id);
  }, [waitKey]);
  // y / n on the selected tile: its oldest approval (the order the agent asked in).
  const decide = async (k: number, d: 'allow' | 'deny') => {
    const a = now.current.agents[k];
    const ap = a && (pending.value[a.id] || [])[0];
    if (!ap) return;
    pending.value = { ...pending.value, [a.id]: (pending.value[a.id] || []).filter((x) => x.id !== ap.id) };
    try {
      await api.decide(ap.id, d);
    } catch (e) {
      toastError('Decision not taken', e);
    }
    void loadPending(a.id);
  };

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const fit = () => (cols.value = gridColumns(el.clientWidth, Math.max(1, n)));
    fit();
    const ro = new ResizeObserver(fit);
    ro.observe(el);
    return () => ro.disconnect();
  }, [n]);

  // What the key handler reads at the time of the key (registered once, so a
  // key right after a move never sees the previous render's tile).
  const now = useRef({ agents, n });
  now.current = { agents, n };
  const current = () => Math.min(sel.value, Math.max(0, now.current.n - 1));
  const focusTile = (k: number) => {
    sel.value = k;
    requestAnimationFrame(() => host.current?.querySelector<HTMLElement>(`[data-index="${k + 1}"]`)?.focus());
  };
  const open = (k: number) => {
    const a = now.current.agents[k];
    if (!a) return;
    fromGrid.value = true;
    go(`/agents/${a.id}`);
  };

  // A layout effect: the keys work from the first frame the grid shows.
  useLayoutEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.metaKey || e.ctrlKey || e.altKey || typingIn(e) || help.value || document.querySelector('.modal-back')) return;
      const count = now.current.n;
      if (e.key === '?') {
        help.value = true;
        e.preventDefault();
      } else if (e.key === 'Escape') {
        (document.activeElement as HTMLElement | null)?.blur?.();
      } else if (e.key === 'Enter') {
        open(current());
        e.preventDefault();
      } else if (decisionKey(e)) {
        void decide(current(), decisionKey(e)!);
        e.preventDefault();
      } else if (/^[1-9]$/.test(e.key)) {
        const k = Number(e.key) - 1;
        if (k < count) focusTile(k);
        e.preventDefault();
      } else {
        const next = gridMove(current(), e.key, cols.value, count);
        if (next !== null) {
          focusTile(next);
          e.preventDefault();
        }
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);

  return (
    <div class="page grid-page">
      <div class="page-head">
        <h1 class="page-title">Grid</h1>
        <div class="head-actions">
          <label class="check small">
            <input type="checkbox" name="live-only" checked={liveOnly.value} onChange={(e) => (liveOnly.value = e.currentTarget.checked)} /> Running and waiting
            only
          </label>
          <button class="btn btn-sm" onClick={() => (help.value = true)} aria-keyshortcuts="?">
            Keys (?)
          </button>
        </div>
      </div>
      {n === 0 ? (
        <Empty title="No agents">Start a task from a workspace in the sidebar (✚).</Empty>
      ) : (
        <div
          class="agent-grid"
          ref={host}
          role="grid"
          aria-label="Agents"
          style={{ gridTemplateColumns: `repeat(${cols.value}, minmax(0, 1fr))` }}
          data-cols={cols.value}
        >
          {agents.map((a, k) => (
            <Tile key={a.id} a={a} n={k + 1} selected={k === i} pending={(pending.value[a.id] || []).length} onPick={() => focusTile(k)} />
          ))}
        </div>
      )}
      {help.value && <GridHelp onClose={() => (help.value = false)} />}
    </div>
  );
}
