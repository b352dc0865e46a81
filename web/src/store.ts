// Application state as signals, the one live socket, and the actions the
// UI calls. Events go through `reduce` (events.ts) in small batches; while
// a snapshot is being reloaded, events are held back and applied on top of
// it afterwards, so nothing is missed and nothing shows twice.
import { modelPrices } from './prices';
import { batch, computed, signal } from '@preact/signals';
import { loadLimits } from './limits';
import { withOrders } from './order';
import { playChime, soundEnabled, wantsChime } from './attention';
import { api, ApiError, onUnauthorized, type Principal } from './api';
import {
  emptyModel,
  emptyTranscript,
  MAX_LIVE_UNLOADED,
  mergeMessages,
  isStatePatch,
  mergeAgentList,
  reapplyStatePatches,
  reconcileLive,
  reduce,
  releaseTiles,
  releaseTranscripts,
  takeAgentAnswer,
  withNewest,
  type Effect,
  type Model,
} from './events';
import { forgetReads } from './readcache';
import { defaults, normalizeSettings, type Settings } from './settings';
import { LiveSocket, wsUrl, type ConnState } from './socket';
import type { Agent, Approval, Envelope, Message, Run, Workspace, Worktree } from './types';

export interface Toast {
  id: number;
  level: 'info' | 'success' | 'warn' | 'error';
  title: string;
  body?: string;
  agentId?: string;
  /** a run's toast (an alert firing) opens the run's page */
  runId?: string;
  /** what it is about (an approval's `approval:<id>`): dismissed by that key */
  key?: string;
}

export const conn = signal<ConnState>({ status: 'connecting', attempt: 0 });
export const model = signal<Model>(emptyModel());
export const workspaces = signal<Workspace[] | null>(null);
export const worktrees = signal<Worktree[] | null>(null);
export const loadError = signal<string | null>(null);
export const settings = signal<Settings>(defaults());
export const settingsLoaded = signal(false);
export const usageToday = signal<any | null>(null);
export const runsByAgent = signal<Record<string, Run[] | undefined>>({});
export const toasts = signal<Toast[]>([]);
// Counts runs that started or ended, for pages that show run figures.
export const runsTick = signal(0);
// Signed in or not: 'checking' until whoami answers, 'out' after any 401
// or a 4401 close, and the page then shows the sign-in screen.
export const auth = signal<{ state: 'checking' | 'in' | 'out'; who?: Principal }>({ state: 'checking' });
export const eventCount = signal(0); // events applied, for the status bar
// Bumped by every metrics_update (training points stored): charts refetch, throttled.
export const metricsTick = signal(0);
// Bumped by every distribution_update (histograms and counts stored).
export const distTick = signal(0);

// Runs' own events (started, ended, renamed, new points) for the live runs
// list and the run page (issue #35): each listener gets every one applied.
const RUN_EVENTS = new Set(['run_started', 'run_ended', 'run_update', 'metrics_update', 'alert_fired']);
const runListeners = new Set<(ev: Envelope) => void>();
export function onRunEvent(f: (ev: Envelope) => void): () => void {
  runListeners.add(f);
  return () => runListeners.delete(f);
}

// The agents alone: an output line (a new model, the same agents) leaves
// this computed's value as it was, so the sidebar and the lists that read
// agentList are not drawn again for it.
const agentMap = computed(() => model.value.agents);
export const agentList = computed(() =>
  Object.values(agentMap.value).sort((a, b) => (a.displayOrder ?? 0) - (b.displayOrder ?? 0) || (a.createdAt || '').localeCompare(b.createdAt || '')),
);

// ---- toasts ---------------------------------------------------------------

let toastSeq = 0;
export function toast(level: Toast['level'], title: string, body?: string, agentId?: string, runId?: string, key?: string) {
  const t: Toast = { id: ++toastSeq, level, title, body, agentId, runId, key };
  const list = [...toasts.value, t];
  toasts.value = list.length > 5 ? list.slice(list.length - 5) : list;
  setTimeout(() => dismissToast(t.id), level === 'error' ? 9000 : 5000);
}
export function dismissToast(id: number) {
  toasts.value = toasts.value.filter((t) => t.id !== id);
}
export function dismissToastKey(key: string, prefix = false) {
  const hit = (t: Toast) => !!t.key && (prefix ? t.key.startsWith(key) : t.key === key);
  if (toasts.value.some(hit)) toasts.value = toasts.value.filter((t) => !hit(t));
}
export function toastError(what: string, e: unknown) {
  toast('error', what, e instanceof Error ? e.message : String(e));
}

// ---- events ---------------------------------------------------------------

let resyncing = false;
let held: Envelope[] = [];
let queue: Envelope[] = [];
// Programs' state patches applied in the last RECENT_MS (at most
// RECENT_MAX), for loadTree to apply again over a list that may predate
// them (events.ts, reapplyStatePatches).
const RECENT_MS = 10000;
const RECENT_MAX = 512;
let recent: { at: number; ev: Envelope }[] = [];

function remember(ev: Envelope) {
  const now = Date.now();
  recent.push({ at: now, ev });
  let drop = 0;
  while (drop < recent.length && (recent.length - drop > RECENT_MAX || now - recent[drop].at > RECENT_MS)) drop++;
  if (drop > 0) recent = recent.slice(drop);
}
let flushTimer: any = null;

function onEvent(ev: Envelope) {
  if (resyncing) {
    held.push(ev);
    return;
  }
  queue.push(ev);
  if (flushTimer === null) flushTimer = setTimeout(flush, 16);
}

export function applyEvents(events: Envelope[]) {
  let m = model.value;
  const effects: Effect[] = [];
  let n = 0;
  for (const ev of events) {
    if (ev.type === 'metrics_update') metricsTick.value++;
    if (ev.type === 'distribution_update') distTick.value++;
    const r = reduce(m, ev);
    if (!r.applied) continue;
    if (isStatePatch(ev)) remember(ev);
    if (RUN_EVENTS.has(ev.type)) for (const f of runListeners) f(ev);
    n++;
    m = r.model;
    for (const e of r.effects) effects.push(e);
  }
  if (n === 0) return;
  batch(() => {
    model.value = m;
    eventCount.value += n;
  });
  for (const e of effects) runEffect(e);
  if (wantsChime(effects, soundEnabled())) playChime();
}

function flush() {
  flushTimer = null;
  const evs = queue;
  queue = [];
  applyEvents(evs);
}

const debounced = new Map<string, any>();
function debounce(key: string, ms: number, f: () => void) {
  if (debounced.has(key)) return;
  debounced.set(
    key,
    setTimeout(() => {
      debounced.delete(key);
      f();
    }, ms),
  );
}

function runEffect(e: Effect) {
  switch (e.kind) {
    case 'toast':
      toast(e.level, e.title, e.body, e.agentId, e.runId, e.key);
      break;
    case 'dismissToast':
      dismissToastKey(e.key, e.prefix);
      break;
    case 'notify':
      notify(e.title, e.body, e.agentId);
      break;
    case 'reloadTree':
      debounce('tree', 150, () => void loadTree());
      break;
    case 'reloadUsage':
      debounce('usage', 500, () => void loadUsage());
      break;
    case 'reloadRuns':
      runsTick.value++;
      if (runsByAgent.value[e.agentId] !== undefined) debounce('runs:' + e.agentId, 300, () => void loadRuns(e.agentId));
      debounce('usage', 1000, () => void loadUsage());
      break;
    case 'reloadAgent':
      debounce('agent:' + e.agentId, 300, () => {
        const id = e.agentId;
        agentRequest(id, () => api.agent(id)).catch(() => {});
      });
      break;
    case 'chime':
      break; // applyEvents sounds it once per batch
    case 'reloadAll':
      void snapshot(model.value.lastSeq);
      break;
  }
}

function notify(title: string, body: string, agentId?: string) {
  if (!settings.value.notifications || typeof Notification === 'undefined') return;
  if (Notification.permission !== 'granted' || !document.hidden) return;
  try {
    const n = new Notification(title, { body, tag: agentId || title });
    n.onclick = () => {
      window.focus();
      if (agentId) location.hash = `#/agents/${agentId}`;
    };
  } catch {
    /* some browsers only allow notifications from a service worker */
  }
}

// ---- loading --------------------------------------------------------------

export async function loadTree() {
  const before = model.value.agents;
  try {
    const [ws, wts, agents] = await Promise.all([api.workspaces(), api.worktrees(), api.agents(true)]);
    // an agent opened (fetched) or created meanwhile is newer than this list
    const map = mergeAgentList(before, model.value.agents, agents);
    batch(() => {
      workspaces.value = ws;
      worktrees.value = wts;
      model.value = reapplyStatePatches(
        { ...model.value, agents: map },
        recent.map((r) => r.ev),
      );
      loadError.value = null;
    });
  } catch (e) {
    loadError.value = e instanceof Error ? e.message : String(e);
    if (workspaces.value === null) {
      workspaces.value = null;
    }
  }
}

// The prices costs are counted at (the built-in list and the setting), so
// a model with none reads "no price set" (prices.ts).
export async function loadPrices() {
  try {
    const p = await api.prices();
    modelPrices.value = { ...(p.builtin || {}), ...(p.modelPrices || {}) };
  } catch {
    modelPrices.value = null; // unknown: costs show as they are
  }
}

export async function loadSettings() {
  try {
    const raw: any = await api.settings();
    setSettings(normalizeSettings(raw));
    applyTheme();
  } catch {
    /* defaults stay; the settings page shows the error when opened */
  }
}

export async function loadUsage() {
  void loadLimits();
  try {
    usageToday.value = await api.usageToday();
  } catch (e) {
    usageToday.value = { error: e instanceof Error ? e.message : String(e) };
  }
}

export async function loadRuns(agentId: string) {
  try {
    const runs = await api.runs(agentId);
    runsByAgent.value = { ...runsByAgent.value, [agentId]: runs };
  } catch (e) {
    if (runsByAgent.value[agentId] === undefined) runsByAgent.value = { ...runsByAgent.value, [agentId]: [] };
    if (!(e instanceof ApiError && e.status === 404)) throw e;
  }
}

const PAGE = 200;
export const openAgent = signal<string | null>(null);

function setTranscript(agentId: string, f: (t: ReturnType<typeof emptyTranscript>) => ReturnType<typeof emptyTranscript>) {
  const m = model.value;
  const t = m.transcripts[agentId] || emptyTranscript();
  model.value = { ...m, transcripts: { ...m.transcripts, [agentId]: f(t) } };
}

type Tr = ReturnType<typeof emptyTranscript>;

// The transcript with the stored messages fetched: output lines they hold
// leave the live chunks (events.ts, reconcileLive), so a line streamed
// before the fetch answered shows once.
function withStored(t: Tr, messages: Tr['messages'], rest: Partial<Tr>): Tr {
  return { ...t, ...rest, messages, live: reconcileLive(messages, t.live) };
}

// A transcript already loaded keeps the older pages it has read and merges
// the newest in; one first loaded, or whose live chunks were dropped at
// their bound, starts again from the newest page (events.ts, withNewest).
export async function loadTranscript(agentId: string, again = true) {
  const page = await api.messages(agentId, PAGE);
  setTranscript(agentId, (t) =>
    t.loaded && !t.dropped
      ? withStored(t, mergeMessages(t.messages, page.messages), { hasMore: t.hasMore, cursor: t.cursor, loaded: true })
      : withNewest(t, page),
  );
  following.delete(agentId); // counted from this read
  if (again)
    readAgain(
      agentId,
      () => !!model.value.transcripts[agentId]?.loaded,
      () => loadTranscript(agentId, false),
    );
}

// Output a command printed just before the page's socket subscribed is in
// no live event the page hears, and in no stored message until the runner
// stores its coalesced output (within about a second, src/run/output.c):
// what is read for an agent that may be printing is read once more, a
// moment later. Both reads go through reconcileLive, so a line shows once.
const AGAIN_MS = 1500;
function readAgain(agentId: string, still: () => boolean, f: () => Promise<void>) {
  const a = model.value.agents[agentId];
  if (a && a.status !== 'running' && a.status !== 'waiting') return;
  setTimeout(() => void (still() && f().catch(() => undefined)), AGAIN_MS);
}

// A grid tile's transcript: the last few stored messages, to show before the
// agent says more. It stays unloaded (MAX_LIVE_UNLOADED chunks and messages):
// a tile shows eight lines, and 24 tiles of a fully loaded transcript each
// would gather every line their agents print while the grid is open. The
// tiles are read again when the socket starts over (snapshot).
const TILE_MESSAGES = 12;
const tiles = new Set<string>();

async function seedTranscript(agentId: string, again = true) {
  const page = await api.messages(agentId, TILE_MESSAGES);
  if (!tiles.has(agentId)) return; // the grid closed meanwhile
  setTranscript(agentId, (t) => {
    if (t.loaded) return t;
    const messages = mergeMessages(t.messages, page.messages);
    return withStored(t, messages.length > MAX_LIVE_UNLOADED ? messages.slice(-MAX_LIVE_UNLOADED) : messages, {});
  });
  if (again)
    readAgain(
      agentId,
      () => tiles.has(agentId),
      () => seedTranscript(agentId, false),
    );
}

export function seedTiles(ids: string[]) {
  for (const id of ids) {
    if (tiles.has(id)) continue;
    tiles.add(id);
    seedTranscript(id).catch(() => tiles.delete(id));
  }
}

// The grid closed: what it read for its tiles goes.
export function forgetTiles() {
  tiles.clear();
  model.value = releaseTiles(model.value);
}

// The open page follows its agent (scrolled to the end): once FOLLOW_LIVE
// live chunks have come since its newest messages were last read (or some
// were dropped, or the messages outgrew FOLLOW_PAGE by as many), the newest
// FOLLOW_PAGE are read again, so the page holds about FOLLOW_PAGE messages
// and FOLLOW_LIVE chunks however long the agent streams (a command's stored
// message is a block of its lines: 200 would be thousands of lines). One
// read at a time per agent, at most one a second.
const FOLLOW_PAGE = 50;
const FOLLOW_LIVE = 256;
const following = new Map<string, { busy: boolean; live: number; at: number; on: boolean; timer: ReturnType<typeof setTimeout> | null }>();

// on: the page is scrolled to its end (false: the user reads back, and
// nothing is read again until it returns).
export function followTranscript(agentId: string, on = true) {
  const t = model.value.transcripts[agentId];
  const f = following.get(agentId) || { busy: false, live: 0, at: 0, on, timer: null };
  following.set(agentId, f);
  f.on = on;
  if (!on || !t || !t.loaded) {
    if (f.timer) clearTimeout(f.timer);
    f.timer = null;
    return;
  }
  const due = t.dropped || t.live.length - f.live > FOLLOW_LIVE || t.messages.length > FOLLOW_PAGE + FOLLOW_LIVE;
  if (!due || f.busy || f.timer) return;
  const wait = f.at + 1000 - Date.now();
  if (wait > 0) {
    // Too soon after the last read: once the second is up, if still at the end.
    f.timer = setTimeout(() => {
      f.timer = null;
      if (f.on) followTranscript(agentId);
    }, wait);
    return;
  }
  f.busy = true;
  api
    .messages(agentId, FOLLOW_PAGE)
    .then((page) => {
      // The page left, or the user scrolled up to read, meanwhile.
      if (!model.value.transcripts[agentId]?.loaded || !f.on) return;
      setTranscript(agentId, (cur) => withNewest(cur, page));
      f.live = model.value.transcripts[agentId].live.length;
    })
    .catch(() => undefined) // the next line asks again
    .finally(() => {
      f.busy = false;
      f.at = Date.now();
    });
}

export async function loadOlder(agentId: string) {
  const t = model.value.transcripts[agentId];
  if (!t || !t.hasMore || !t.cursor) return;
  const page = await api.messages(agentId, PAGE, t.cursor);
  // Read again at its newest meanwhile (followTranscript): this page no longer joins it.
  setTranscript(agentId, (cur) =>
    cur.cursor !== t.cursor ? cur : withStored(cur, mergeMessages(cur.messages, page.messages), { hasMore: page.hasMore, cursor: page.nextCursor }),
  );
}

// Reloads everything the page shows; events that arrive meanwhile are held
// and applied on top, starting after `fromSeq`.
async function snapshot(fromSeq: number) {
  resyncing = true;
  held = [];
  try {
    const open = openAgent.value;
    await Promise.all([
      loadTree(),
      loadUsage(),
      loadSettings(),
      open ? loadTranscript(open).catch(() => undefined) : undefined,
      ...[...tiles].map((id) => seedTranscript(id).catch(() => undefined)),
      open ? loadRuns(open).catch(() => undefined) : undefined,
    ]);
  } finally {
    model.value = { ...model.value, lastSeq: fromSeq };
    resyncing = false;
    const evs = held;
    held = [];
    // Events queued before the snapshot started are older than it.
    queue = [];
    applyEvents(evs);
  }
}

// ---- the socket -----------------------------------------------------------

// The page's one /ws connection: the store holds the dashboard's topics on
// it; chats, crews and definitions lists subscribe their own (socket.ts).
export const socket = new LiveSocket({
  url: () => wsUrl('/ws'),
  onState: (s) => (conn.value = s),
  onUnauthorized: signedOut,
});
let live: (() => void) | null = null;

export function startLive() {
  if (!live) {
    live = socket.subscribe(['agent:*', 'workspace:*', 'worktree:*', 'run:*', 'system', 'usage'], {
      onEvent,
      onResync: (from) => void snapshot(from),
    });
    window.addEventListener('online', () => socket.retryNow());
    window.addEventListener('offline', () => {
      if (conn.value.status !== 'connected') conn.value = { ...conn.value, status: 'offline' };
    });
    // Test hook: lets the browser tests see what the page applied.
    (window as any).__agentd = { model, eventCount, conn, metricsTick, runsTick, distTick };
  }
  socket.start();
}

// ---- signing in -------------------------------------------------------------

function signedOut() {
  socket.stop();
  forgetReads();
  auth.value = { state: 'out' };
}

// agentd did not answer when the page opened (the installed app's shell,
// kept by the service worker, opens without it): the page says so and asks
// again, and loads afresh once it answers. null while it answers.
export const daemonDown = signal<{ attempt: number; nextInMs: number } | null>(null);
let downTimer: ReturnType<typeof setTimeout> | undefined;

function retryWhenDown(attempt: number) {
  const nextInMs = Math.min(1000 * 2 ** Math.min(attempt, 3), 5000);
  daemonDown.value = { attempt, nextInMs };
  clearTimeout(downTimer);
  downTimer = setTimeout(() => void askAgain(attempt + 1), nextInMs);
}

export async function askAgain(attempt = 1) {
  clearTimeout(downTimer);
  try {
    await api.whoami();
    location.reload(); // up again: everything loads as on a first open
  } catch (e) {
    if ((e as ApiError).status === 0) retryWhenDown(attempt);
    else location.reload();
  }
}

// Asks who we are; on 200 the page loads, on 401 it shows the sign-in screen.
export async function checkAuth(): Promise<boolean> {
  onUnauthorized(signedOut);
  try {
    auth.value = { state: 'in', who: await api.whoami() };
    loginError.value = null; // a stale link opened while signed in: nothing to say
    return true;
  } catch (e) {
    if ((e as ApiError).status === 401) auth.value = { state: 'out' };
    else auth.value = { state: 'in' }; // the daemon is down: the page says so where it loads
    if ((e as ApiError).status === 0) retryWhenDown(1);
    return auth.value.state === 'in';
  }
}

// Loads everything and goes live; after sign-in too.
export function boot() {
  void loadTree();
  void loadUsage();
  void loadSettings().then(applyTheme);
  startLive();
}

// Why the sign-in screen shows (a login code that did not work), or null.
export const loginError = signal<string | null>(null);

// The one-time code of a login URL (`agentd login`: /login#code=...). It
// rides in the fragment, which no request carries, and is taken off the
// address at once so it is neither kept in history nor shown.
const STALE_LINK = 'That login link did not work (it works once, for 5 minutes): run `agentd login` for a new one.';

export function takeLoginCode(): string | null {
  if (typeof location === 'undefined') return null;
  const m = /^#code=([A-Za-z0-9_-]{16,128})$/.exec(location.hash);
  if (!m && location.pathname !== '/login') return null;
  // An older agentd's link (/login?token=…) or a mangled code: the sign-in
  // page says so, and the secret leaves the address bar either way.
  if (!m && (/[?&](token|code)=/.test(location.search) || location.hash.startsWith('#code='))) loginError.value = STALE_LINK;
  history.replaceState(null, '', '/#/');
  return m ? m[1] : null;
}

// Trades a login code for a session cookie by a same-origin JSON POST.
export async function signInWithCode(code: string) {
  try {
    const r = await api.loginCode(code);
    auth.value = { state: 'in', who: r.principal };
  } catch {
    loginError.value = STALE_LINK;
    await checkAuth();
    if (auth.value.state === 'in') loginError.value = null;
  }
  boot();
}

export async function signIn(token: string) {
  const r = await api.login(token);
  auth.value = { state: 'in', who: r.principal };
  boot();
}

// A user account's sign-in (issue #74): the same session cookie.
export async function signInWithPassword(username: string, password: string) {
  const r = await api.loginPassword(username, password);
  auth.value = { state: 'in', who: r.principal };
  boot();
}

export async function signOut() {
  try {
    await api.logout();
  } finally {
    signedOut();
  }
}

// ---- actions --------------------------------------------------------------

// The agent page of id is open (its transcript follows events) or closed.
export function setOpenAgent(id: string | null, closing?: string) {
  if (closing !== undefined && openAgent.value !== closing) return;
  openAgent.value = id;
  if (id === null) unloadTranscripts();
}

// Transcripts no page shows stop gathering every line (an agent page's
// after it closes); the open agent's stays.
function unloadTranscripts() {
  model.value = releaseTranscripts(model.value, openAgent.value);
}

// The settings the server answered (GET, or PATCH merged into ours).
export function setSettings(s: Settings, merge = false) {
  settings.value = merge ? { ...settings.value, ...s } : s;
  settingsLoaded.value = true;
}

// A message the user just sent, shown before its message_created event
// (which has the same id and merges into it).
export function addSentMessage(msg: Message) {
  const m = model.value;
  const tr = m.transcripts[msg.agentId];
  if (!tr || tr.messages.some((x) => x.id === msg.id)) return;
  model.value = { ...m, transcripts: { ...m.transcripts, [msg.agentId]: { ...tr, messages: [...tr.messages, msg] } } };
}

// Takes an agent the server returned unless an event already brought newer.
// A list dragged into a new order (a worktree's agents, a workspace's
// worktrees), shown at once; the server keeps it too (Reorder.tsx).
export function applyOrder(kind: 'agent' | 'worktree', ids: string[]) {
  batch(() => {
    if (kind === 'agent') {
      const agents = { ...model.value.agents };
      for (const a of withOrders(ids.map((id) => agents[id]).filter(Boolean), ids)) agents[a.id] = a;
      model.value = { ...model.value, agents };
    } else {
      worktrees.value = withOrders(worktrees.value || [], ids);
    }
  });
}

// How a worktree lists its agents, shown at once (the server keeps it).
export function setSortMode(worktreeId: string, mode: Worktree['sortMode']) {
  worktrees.value = (worktrees.value || []).map((w) => (w.id === worktreeId ? { ...w, sortMode: mode } : w));
}

// Each agent's approvals waiting for a decision, as its page last loaded
// them: the transcript marks the tool cards they hold.
export const pendingApprovals = signal<Record<string, Approval[]>>({});
export function setPendingApprovals(agentId: string, list: Approval[]) {
  pendingApprovals.value = { ...pendingApprovals.value, [agentId]: list };
}

// Takes in an agent the daemon answered. was: the model's agent when the
// request went out (null: it had none), so a status the stream brought
// meanwhile is not taken back (takeAgentAnswer); left out, the answer is
// taken as it is (agentRequest passes it).
export function upsertAgent(a: Agent | null | undefined, was?: Agent | null) {
  if (!a || typeof a.id !== 'string') return;
  const cur = model.value.agents[a.id];
  if (cur && cur.updatedAt && a.updatedAt && a.updatedAt < cur.updatedAt) return;
  model.value = { ...model.value, agents: { ...model.value.agents, [a.id]: takeAgentAnswer(cur, was, a) } };
}

// Sends req, a request about agent id, and takes in its answer when that
// is the agent (upsertAgent, with the model's agent as it was before the
// request went out); returns the answer.
export async function agentRequest<T>(id: string, req: () => Promise<T>): Promise<T> {
  const was = model.value.agents[id] ?? null;
  const r = await req();
  if (r && typeof r === 'object' && (r as unknown as Agent).id === id) upsertAgent(r as unknown as Agent, was);
  return r;
}

export function applyTheme() {
  const pref = String(settings.value.theme || 'system');
  try {
    localStorage.setItem('agentd.theme', pref);
  } catch {
    /* private mode */
  }
  const light = pref === 'light' || (pref === 'system' && matchMedia('(prefers-color-scheme: light)').matches);
  document.documentElement.dataset.theme = light ? 'light' : 'dark';
}
