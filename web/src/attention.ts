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
