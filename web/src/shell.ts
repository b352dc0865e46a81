// The frame's own state, apart from its views: the pages of the top bar,
// which one a route belongs to, and whether the sidebar is collapsed on a
// wide screen (remembered in this browser, as the seed's dashboard does).
// The phone's drawer and page menu are per view (App.tsx).
import { signal } from '@preact/signals';
import type { Route } from './router';

export const PAGES: { key: string; label: string; href: string }[] = [
  { key: 'home', label: 'Home', href: '#/' },
  { key: 'agents', label: 'Agents', href: '#/agents' },
  { key: 'grid', label: 'Grid', href: '#/grid' },
  { key: 'crews', label: 'Crews', href: '#/crews' },
  { key: 'chats', label: 'Chats', href: '#/chats' },
  { key: 'analytics', label: 'Analytics', href: '#/analytics' },
  { key: 'health', label: 'Health', href: '#/health' },
  { key: 'nodes', label: 'Nodes', href: '#/nodes' },
  { key: 'routines', label: 'Routines', href: '#/routines' },
  { key: 'sessions', label: 'Sessions', href: '#/sessions' },
  { key: 'settings', label: 'Settings', href: '#/settings' },
];

/** The top-bar page a route is under (an agent under Agents, a project under Chats). */
export function pageOf(r: Route): string {
  if (r.page === 'agent') return 'agents';
  if (r.page === 'run') return 'analytics';
  if (r.page === 'projects' || r.page === 'definitions') return 'chats';
  return r.page;
}

export const COLLAPSED_KEY = 'agentd.sidebarCollapsed';

type Store = Pick<Storage, 'getItem' | 'setItem'>;

function storage(): Store | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}

export function loadCollapsed(s: Store | null = storage()): boolean {
  try {
    return s?.getItem(COLLAPSED_KEY) === '1';
  } catch {
    return false;
  }
}

/** Whether the wide screen's sidebar is folded away. */
export const sidebarCollapsed = signal(loadCollapsed());

/** Whether the layout is kept in this browser (auto_save: autosave.ts). */
export const layoutKept = { on: true };

export function setCollapsed(v: boolean, s: Store | null = storage()) {
  sidebarCollapsed.value = v;
  if (!layoutKept.on) return;
  try {
    s?.setItem(COLLAPSED_KEY, v ? '1' : '0');
  } catch {
    /* private mode: kept for this page only */
  }
}
