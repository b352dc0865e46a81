// Entry: first paint from REST (fetched in parallel with the socket opening,
// so a page needs one round trip), then live updates over the one WebSocket.
import { render } from 'preact';
import './styles.css';
import { startRouter } from './router';
import { applyTheme, loadSettings, loadTree, loadUsage, startLive } from './store';
import { App } from './ui/App';

startRouter();
void loadTree();
void loadUsage();
void loadSettings().then(applyTheme);
startLive();
render(<App />, document.getElementById('app')!);
