// The active crew, one agent at a time (seed 003: "Improved active crew
// section - Better layout with agent rotation"): the crew the page has
// open, else the first busy one, shows its agents in turn, working ones
// first, each for ROTATE_MS, with who it is, what it is doing and what it
// cost, a link to its page, and dots to pick one. As a carousel should
// (WAI-ARIA APG): it holds still while the pointer or the focus is on it,
// has a Pause button, and starts paused when the system asks for reduced
// motion; a hand-picked agent stays until the next turn.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import type { Crew } from '../api';
import { agentList } from '../store';
import type { Agent } from '../types';
import { fmtCost } from './common';

export const ROTATE_MS = 6000;
const WORKING = new Set(['running', 'waiting']);

/** The crew's agents in the order they are shown: working ones first, then by name. */
export function rotationOrder(agents: Agent[], crewId: string): Agent[] {
  const w = (a: Agent) => (WORKING.has(a.status) ? 0 : 1);
  return agents.filter((a) => a.crewId === crewId && !a.deletedAt).sort((a, b) => w(a) - w(b) || a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

function reducedMotion(): boolean {
  try {
    return window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  } catch {
    return false;
  }
}

export function CrewSpotlight({ crew }: { crew: Crew }) {
  const shown = useSignal<string | null>(null);
  const held = useSignal(false); // the pointer or the focus is on it
  const paused = useSignal(reducedMotion());
  const members = rotationOrder(agentList.value, crew.id);
  const n = members.length;
  const at = Math.max(
    0,
    members.findIndex((a) => a.id === shown.value),
  );
  const a = n > 0 ? members[at] : null;
  const show = (i: number) => {
    if (n > 0) shown.value = members[((i % n) + n) % n].id;
  };
  const rotating = n > 1 && !paused.value && !held.value;
  useEffect(() => {
    if (!rotating) return;
    const t = setTimeout(() => show(at + 1), ROTATE_MS);
    return () => clearTimeout(t);
  }, [rotating, at, n, crew.id, a?.id]);
  return (
    <section
      class="panel glass crew-spotlight"
      aria-label={`Active crew ${crew.name}`}
      aria-roledescription="carousel"
      data-crew={crew.id}
      data-rotating={rotating ? 'yes' : 'no'}
      onMouseEnter={() => (held.value = true)}
      onMouseLeave={() => (held.value = false)}
      onFocusIn={() => (held.value = true)}
      onFocusOut={(e) => {
        if (!e.currentTarget.contains(e.relatedTarget as Node | null)) held.value = false;
      }}
    >
      <div class="spot-head">
        <h2>
          Active crew: {crew.name} <span class={`crew-dot crew-${crew.status}`} data-status={crew.status} aria-label={crew.status} />
        </h2>
        {n > 1 && (
          <div class="spot-controls" role="group" aria-label="Rotation">
            <span class="muted spot-count">
              {at + 1} of {n}
            </span>
            <button type="button" class="btn btn-sm" aria-label="Previous agent" onClick={() => show(at - 1)}>
              ‹
            </button>
            <button type="button" class="btn btn-sm spot-pause" onClick={() => (paused.value = !paused.value)} aria-pressed={paused.value}>
              {paused.value ? 'Rotate' : 'Pause rotation'}
            </button>
            <button type="button" class="btn btn-sm" aria-label="Next agent" onClick={() => show(at + 1)}>
              ›
            </button>
          </div>
        )}
      </div>
      {a === null ? (
        <p class="muted">No agents in this crew yet: add one from its page or with agentd new --crew.</p>
      ) : (
        <div class="spot-agent" aria-roledescription="slide" aria-live={rotating ? 'off' : 'polite'} data-agent={a.id}>
          <a href={`#/agents/${a.id}`} class="spot-name">
            {a.name}
          </a>
          <span class={`badge status-${a.status}`} data-status={a.status}>
            {a.status}
          </span>
          <span class="muted">{a.executor || 'agent'}</span>
          <span class="muted">{fmtCost(a.costUsd ?? 0)}</span>
        </div>
      )}
      {n > 1 && (
        <div class="spot-dots">
          {members.map((m, i) => (
            <button
              key={m.id}
              type="button"
              class={`spot-dot${i === at ? ' on' : ''}`}
              aria-label={`Show ${m.name}`}
              aria-current={i === at ? 'true' : undefined}
              onClick={() => show(i)}
            />
          ))}
        </div>
      )}
    </section>
  );
}
