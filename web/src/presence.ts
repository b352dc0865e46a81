// What this tab is looking at (issue #37): the agent whose page it shows
// while the page is visible and has the focus, told to the daemon on the
// one /ws (socket.setPresence). The tray helper asks the daemon before a
// desktop notification about an agent, and shows none while the user is
// looking at that agent here. Only this user's own clients count (the
// daemon keeps it per credential), and it ends with the connection.
import { effect } from '@preact/signals';
import { route, type Route } from './router';

/** The agent the user looks at, or null. */
export function presenceOf(r: Route, visible: boolean, focused: boolean): string | null {
  return r.page === 'agent' && visible && focused ? r.id : null;
}

/** Follows the route, the tab's visibility and the window's focus. */
export function startPresence(sock: { setPresence: (id: string | null) => void }): () => void {
  const update = () => sock.setPresence(presenceOf(route.value, document.visibilityState === 'visible', document.hasFocus()));
  const stop = effect(update);
  document.addEventListener('visibilitychange', update);
  window.addEventListener('focus', update);
  window.addEventListener('blur', update);
  return () => {
    stop();
    document.removeEventListener('visibilitychange', update);
    window.removeEventListener('focus', update);
    window.removeEventListener('blur', update);
  };
}
