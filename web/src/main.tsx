// Entry: first paint from REST (fetched in parallel with the socket opening
// and with asking who we are, so a page needs one round trip), then live
// updates over the one WebSocket. Without a session every request answers
// 401 and the sign-in screen shows instead. /login#code=... (the URL
// `agentd login` prints) signs in by POSTing the code first.
import { render } from 'preact';
import './styles.css';
import { startAttention } from './attention';
import { startPresence } from './presence';
import { startRouter } from './router';
import { agentList, boot, checkAuth, signInWithCode, socket, takeLoginCode } from './store';
import { App } from './ui/App';

// A login URL's one-time code is read (and taken off the address) before
// the router sees the fragment.
const code = takeLoginCode();
startRouter();
render(<App />, document.getElementById('app')!);
if (code) {
  void signInWithCode(code);
} else {
  void checkAuth();
  boot();
}
startAttention(() => agentList.value);
startPresence(socket);
// The installable app's shell (public/sw.js): only where the browser allows
// a service worker (https, or http on localhost).
if ('serviceWorker' in navigator && window.isSecureContext) {
  navigator.serviceWorker.register('/sw.js').catch(() => {});
}
