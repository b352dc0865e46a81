// Entry: first paint from REST (fetched in parallel with the socket opening
// and with asking who we are, so a page needs one round trip), then live
// updates over the one WebSocket. Without a session every request answers
// 401 and the sign-in screen shows instead.
import { render } from 'preact';
import './styles.css';
import { startAttention } from './attention';
import { startRouter } from './router';
import { agentList, boot, checkAuth } from './store';
import { App } from './ui/App';

startRouter();
render(<App />, document.getElementById('app')!);
void checkAuth();
boot();
startAttention(() => agentList.value);
