// What needs the user, shown where they look when the tab is not in front:
// the page title starts with the number of agents waiting for input or an
// approval, and the favicon carries the same number. Pure helpers plus one
// effect (startAttention) that follows the agent list.
import { effect } from '@preact/signals';
import type { Agent } from './types';

const BASE_TITLE = 'agentd';
const DOT = '%237c8cff'; // the dashboard's accent, URL-encoded

/** Agents that wait for the user: status `waiting`, not archived. */
export function waitingCount(agents: Pick<Agent, 'status' | 'deletedAt'>[]): number {
  return agents.filter((a) => a.status === 'waiting' && !a.deletedAt).length;
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
    const n = waitingCount(agents());
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
