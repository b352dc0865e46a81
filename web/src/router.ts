// Hash routes: #/ (home), #/agents, #/agents/:id (#/agents/:id/m/:messageId: its transcript at
// that message, a search hit's link), #/crews, #/crews/:id,
// #/grid, #/analytics, #/runs/:id (a run's page), #/health, #/nodes, #/routines[/:id], #/sessions, #/settings[/:section], #/chats[/:id], #/projects[/:id],
// #/definitions[/:name].
// Hash routing keeps every page a static file for the daemon to serve.
import { signal } from '@preact/signals';

export type Route =
  | { page: 'home' }
  | { page: 'agents' }
  | { page: 'grid' }
  | { page: 'agent'; id: string; message?: string }
  | { page: 'crews'; id?: string }
  | { page: 'chats'; id?: string }
  | { page: 'projects'; id?: string }
  | { page: 'definitions'; id?: string }
  | { page: 'analytics' }
  | { page: 'run'; id: string }
  | { page: 'health' }
  | { page: 'nodes' }
  | { page: 'routines'; id?: string }
  | { page: 'sessions' }
  | { page: 'settings'; id?: string };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'agents' && parts[1] && parts[2] === 'm' && parts[3]) return { page: 'agent', id: parts[1], message: parts[3] };
  if (parts[0] === 'agents' && parts[1]) return { page: 'agent', id: parts[1] };
  if (parts[0] === 'agents') return { page: 'agents' };
  if (parts[0] === 'grid') return { page: 'grid' };
  if (parts[0] === 'crews') return parts[1] ? { page: 'crews', id: parts[1] } : { page: 'crews' };
  if (parts[0] === 'chats') return parts[1] ? { page: 'chats', id: parts[1] } : { page: 'chats' };
  if (parts[0] === 'projects') return parts[1] ? { page: 'projects', id: parts[1] } : { page: 'projects' };
  if (parts[0] === 'definitions') return parts[1] ? { page: 'definitions', id: parts[1] } : { page: 'definitions' };
  if (parts[0] === 'analytics') return { page: 'analytics' };
  if (parts[0] === 'runs' && parts[1]) return { page: 'run', id: parts[1] };
  if (parts[0] === 'health') return { page: 'health' };
  if (parts[0] === 'nodes') return { page: 'nodes' };
  if (parts[0] === 'routines') return parts[1] ? { page: 'routines', id: parts[1] } : { page: 'routines' };
  if (parts[0] === 'sessions') return { page: 'sessions' };
  if (parts[0] === 'settings') return parts[1] ? { page: 'settings', id: parts[1] } : { page: 'settings' };
  return { page: 'home' };
}

export const route = signal<Route>(typeof location === 'undefined' ? { page: 'home' } : parseRoute(location.hash));

export function startRouter() {
  window.addEventListener('hashchange', () => (route.value = parseRoute(location.hash)));
}

export function go(path: string) {
  location.hash = '#' + path;
}

/** Set when an agent was opened from the grid: Esc on its page comes back. */
export const fromGrid = signal(false);
