// What needs the user, shown where they look when the tab is not in front:
// the page title starts with the number of agents that need the user (an
// approval, a question), and the favicon carries the same number. An agent
// that only finished its turn does not need the user: it is "turn done",
// unseen until its page is opened (this browser remembers, in localStorage,
// the newest turn it has seen of each agent). Pure helpers, the seen marks
// and one effect (startAttention) that follows the agent list.
import { effect, signal } from '@preact/signals';
import type { Agent } from './types';

const BASE_TITLE = 'agentd';
const DOT = '%237c8cff'; // the dashboard's accent, URL-encoded

type AgentLike = Pick<Agent, 'id' | 'status' | 'deletedAt' | 'reason' | 'state' | 'updatedAt' | 'waitingSince'>;

/** Why a waiting agent waits: the live event's reason, else the stored one. */
export function waitReason(a: Pick<Agent, 'reason' | 'state'>): string | null {
  if (a.reason !== undefined) return a.reason || null;
  const r = a.state && typeof a.state === 'object' ? (a.state as any).statusReason : null;
  return typeof r === 'string' && r ? r : null;
}

/** Waits on the user: an approval (a tool call held) or a question. */
export function needsYou(a: Pick<AgentLike, 'status' | 'deletedAt' | 'reason' | 'state'>): boolean {
  if (a.deletedAt || a.status !== 'waiting') return false;
  const r = waitReason(a);
  return r === 'approval' || r === 'question';
}

/** Finished its turn and waits for a next message, which is up to the user. */
export function turnDone(a: Pick<AgentLike, 'status' | 'deletedAt' | 'reason' | 'state'>): boolean {
  return !a.deletedAt && a.status === 'waiting' && !needsYou(a);
}

/** Agents that need the user (the tab's count, the orange badges). */
export function needsYouCount(agents: Pick<AgentLike, 'status' | 'deletedAt' | 'reason' | 'state'>[]): number {
  return agents.filter(needsYou).length;
}

/** When the agent's current turn ended, as far as the page knows. */
export function turnAt(a: Pick<AgentLike, 'updatedAt' | 'waitingSince'>): string {
  return a.waitingSince || a.updatedAt || '';
}

/** agent id → the newest turn time seen in this browser. */
export type SeenMarks = Record<string, string>;
export const SEEN_KEY = 'agentd.seen';
const SEEN_MAX = 1000;

/** A turn done that this browser has not shown yet. */
export function isUnseen(a: AgentLike, seen: SeenMarks): boolean {
  return turnDone(a) && turnAt(a) > (seen[a.id] || '');
}

/** The marks with agent a seen as it is now (the same object if nothing changed). */
export function markSeen(seen: SeenMarks, a: Pick<AgentLike, 'id' | 'updatedAt' | 'waitingSince'>): SeenMarks {
  const t = [turnAt(a), a.updatedAt || ''].sort()[1];
  if (!t || (seen[a.id] || '') >= t) return seen;
  const out: SeenMarks = { ...seen, [a.id]: t };
  const keys = Object.keys(out);
  if (keys.length > SEEN_MAX) for (const k of keys.sort((x, y) => out[x].localeCompare(out[y])).slice(0, keys.length - SEEN_MAX)) delete out[k];
  return out;
}

/** What an agent's badge says: waiting only when it needs the user. */
export function badgeStatus(a: Pick<AgentLike, 'status' | 'deletedAt' | 'reason' | 'state'>): string {
  if (a.deletedAt) return 'archived';
  return turnDone(a) ? 'turn' : a.status;
}

export function loadSeen(s: Store | null = storage()): SeenMarks {
  try {
    const v = JSON.parse(s?.getItem(SEEN_KEY) || '{}');
    if (!v || typeof v !== 'object' || Array.isArray(v)) return {};
    const out: SeenMarks = {};
    for (const [k, t] of Object.entries(v)) if (typeof t === 'string') out[k] = t;
    return out;
  } catch {
    return {};
  }
}

/** This browser's seen marks, kept in localStorage. */
export const seenMarks = signal<SeenMarks>(loadSeen());

/** Marks the agent seen (its page is open). */
export function seeAgent(a: Pick<AgentLike, 'id' | 'updatedAt' | 'waitingSince'>): void {
  const next = markSeen(seenMarks.value, a);
  if (next === seenMarks.value) return;
  seenMarks.value = next;
  try {
    storage()?.setItem(SEEN_KEY, JSON.stringify(next));
  } catch {
    /* private mode: seen for this page only */
  }
}

/** "(3) agentd" when three agents wait, "agentd" when none does. */
export function titleFor(n: number, base = BASE_TITLE): string {
  return n > 0 ? `(${n > 99 ? '99+' : n}) ${base}` : base;
}

/** The favicon as an SVG data URL: the plain dot, or the dot with the count
 * on an orange badge. */
export function faviconFor(n: number): string {
  const dot = `%3Ccircle cx='8' cy='8' r='7' fill='${DOT}'/%3E`;
  if (n <= 0) return `data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E${dot}%3C/svg%3E`;
  const label = n > 9 ? '9+' : String(n);
  const badge =
    `%3Ccircle cx='8' cy='8' r='8' fill='%23e3b341'/%3E` +
    `%3Ctext x='8' y='12' font-size='${label.length > 1 ? 8 : 11}' font-family='sans-serif' font-weight='bold' ` +
    `text-anchor='middle' fill='%23000'%3E${encodeURIComponent(label)}%3C/text%3E`;
  return `data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E${badge}%3C/svg%3E`;
}

/** Keeps the title and the favicon in step with agents (a signal's value
 * read inside the effect). Returns the effect's disposer. */
export function startAttention(agents: () => Agent[]): () => void {
  let last = -1;
  return effect(() => {
    const n = needsYouCount(agents());
    if (n === last) return;
    last = n;
    document.title = titleFor(n);
    let link = document.querySelector<HTMLLinkElement>('link[rel="icon"]');
    if (!link) {
      link = document.createElement('link');
      link.rel = 'icon';
      document.head.appendChild(link);
    }
    link.href = faviconFor(n);
    link.dataset.waiting = String(n);
  });
}

// ---- the optional chime -------------------------------------------------
// A browser preference (Settings → "Sound when an agent waits"), off by
// default, kept in localStorage like the theme: it is this browser's, not
// the daemon's.

export const SOUND_KEY = 'agentd.sound';

type Store = Pick<Storage, 'getItem' | 'setItem'>;

function storage(): Store | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null; /* private mode */
  }
}

export function soundEnabled(s: Store | null = storage()): boolean {
  try {
    return s?.getItem(SOUND_KEY) === 'on';
  } catch {
    return false;
  }
}

export function setSoundEnabled(on: boolean, s: Store | null = storage()): void {
  try {
    s?.setItem(SOUND_KEY, on ? 'on' : 'off');
  } catch {
    /* private mode: the chime stays off */
  }
}

/** Whether a batch of reducer effects should sound the chime: only when the
 * user turned it on and an agent has just started waiting (the reducer
 * emits `chime` on that transition only). One chime per batch. */
export function wantsChime(effects: { kind: string }[], enabled: boolean): boolean {
  return enabled && effects.some((e) => e.kind === 'chime');
}

let audio: AudioContext | null = null;

/** Two short sine notes (no audio file). Browsers may keep audio muted
 * until the page had a click; then this is silent. */
export function playChime(): void {
  try {
    const Ctx = (window as any).AudioContext || (window as any).webkitAudioContext;
    if (!Ctx) return;
    audio = audio || new Ctx();
    const ctx = audio!;
    const t = ctx.currentTime;
    for (const [i, f] of [880, 1320].entries()) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = 'sine';
      osc.frequency.value = f;
      const at = t + i * 0.12;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.15, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.18);
      osc.connect(gain).connect(ctx.destination);
      osc.start(at);
      osc.stop(at + 0.2);
    }
    const n = Number(document.documentElement.dataset.chimes || 0) + 1;
    document.documentElement.dataset.chimes = String(n); // for tests and curious users
  } catch {
    /* no audio device: nothing to do */
  }
}
