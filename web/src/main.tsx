// Entry: ask who we are, then first paint from REST (fetched in parallel
// with the socket opening, so a page needs one round trip) and live updates
// over the one WebSocket. Without a session the sign-in screen shows first.
import { render } from 'preact';
import './styles.css';
import { startRouter } from './router';
import { boot, checkAuth } from './store';
import { App } from './ui/App';

startRouter();
render(<App />, document.getElementById('app')!);
void checkAuth().then((ok) => {
  if (ok) boot();
});
