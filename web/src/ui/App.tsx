// The frame: top bar with tabs (Home / Agents / Grid / Crews / Chats (with Projects
// and Definitions) / Analytics / Health / Nodes / Settings; one menu on a phone) and
// the live connection indicator, the sidebar, the routed page and toasts.
import { useSignal } from '@preact/signals';
import { lazy, Suspense } from 'preact/compat';
import { useEffect } from 'preact/hooks';
import { PAGES, pageOf, setCollapsed, sidebarCollapsed } from '../shell';
import { route } from '../router';
import { agentList, askAgain, auth, conn, daemonDown, dismissToast, loadError, loadTree, signOut, socket, toasts, workspaces, worktrees } from '../store';
import { AgentBadge, AgentSummary, ConfirmHost, Empty, ErrorState, fmtCost, fmtInt, Spinner } from './common';
import { Home } from './Home';
import { Login } from './Login';
import { PaletteHost, SearchBox } from './SearchBox';
import { Sidebar } from './Sidebar';

function ConnIndicator() {
  const c = conn.value;
  const label =
    c.status === 'connected' ? 'Live' : c.status === 'connecting' ? 'Connecting…' : c.status === 'offline' ? 'Offline' : `Reconnecting (attempt ${c.attempt})`;
  return (
    <button
      class={`conn conn-${c.status}`}
      data-status={c.status}
      data-attempt={c.attempt}
      title={c.lastError ? `Last error: ${c.lastError}` : 'Live updates'}
      aria-live="polite"
      aria-label={label}
      onClick={() => socket.retryNow()}
    >
      <span class="conn-dot" aria-hidden="true" />
      <span class="conn-long">{label}</span>
      <span class="conn-short" aria-hidden="true">
        {c.status === 'reconnecting' ? `#${c.attempt}` : c.status === 'connected' ? 'Live' : c.status === 'offline' ? 'Off' : '…'}
      </span>
    </button>
  );
}

// Who the page is signed in as, and the way out (not with --auth none).
function WhoAmI() {
  const who = auth.value.who;
  if (!who || !who.authRequired) return null;
  return (
    <div class="whoami">
      <span class="whoami-name" title={who.owner ? 'the daemon owner' : `org ${who.orgId || ''}`}>
        {who.name} <span class="muted">({who.owner ? 'owner' : who.scope})</span>
      </span>
      <button class="btn btn-sm" onClick={() => void signOut()}>
        Sign out
      </button>
    </div>
  );
}

// The agent, health and settings pages load when first opened: the first
// load stays within its budget (bench/README.md, B1).
const AgentPage = lazy(() => import('./AgentPage').then((m) => ({ default: m.AgentPage })));
const HealthPage = lazy(() => import('./HealthPage').then((m) => ({ default: m.HealthPage })));
const SettingsPage = lazy(() => import('./SettingsPage').then((m) => ({ default: m.SettingsPage })));
// The Nodes page (issue #34) loads when first opened.
const NodesPage = lazy(() => import('./Nodes'));
// The Routines page (issue #75) loads when first opened.
const RoutinesPage = lazy(() => import('./Routines'));
// The Sessions page (issue #76) loads when first opened.
const SessionsPage = lazy(() => import('./Sessions'));
// The Crews page and its graph library load when first opened.
const CrewsPage = lazy(() => import('./Crews'));
// The Chats page (issue #18) too.
const ChatsPage = lazy(() => import('./Chats'));
const ProjectsPage = lazy(() => import('./Projects'));
const DefinitionsPage = lazy(() => import('./Definitions'));
// The grid and the new-task dialog (issue #14) too.
const GridPage = lazy(() => import('./Grid'));
const NewTask = lazy(() => import('./NewTask'));
// Analytics and a run's page (issue #35) with their charts: loaded when opened.
const Analytics = lazy(() => import('./Analytics'));
const RunPage = lazy(() => import('./RunPage'));

function AgentsPage() {
  const list = agentList.value;
  const wts = new Map((worktrees.value || []).map((w) => [w.id, w]));
  const showArchived = useSignal(false);
  const newTask = useSignal(false);
  const shown = list.filter((a) => showArchived.value || !a.deletedAt);
  return (
    <div class="page">
      <div class="page-head">
        <h1 class="page-title">Agents</h1>
        <div class="head-actions">
          <label class="check small">
            <input type="checkbox" checked={showArchived.value} onChange={(e) => (showArchived.value = e.currentTarget.checked)} /> Show archived
          </label>
          <button
            class="btn btn-primary btn-sm"
            disabled={!(workspaces.value || []).length}
            title={(workspaces.value || []).length ? undefined : 'Add a workspace first'}
            onClick={() => (newTask.value = true)}
          >
            ✚ New task
          </button>
        </div>
      </div>
      {loadError.value && <ErrorState message={loadError.value} onRetry={() => void loadTree()} />}
      {shown.length === 0 ? (
        <Empty title="No agents">Start a new task (✚), or create an agent in a worktree of the sidebar (+).</Empty>
      ) : (
        <div class="panel glass scroll">
          <table class="table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Status</th>
                <th>Worktree</th>
                <th>Executor</th>
                <th>Mode</th>
                <th class="num">Context</th>
                <th class="num">Tokens</th>
                <th class="num">Cost</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((a) => (
                <tr key={a.id}>
                  <td>
                    <a href={`#/agents/${a.id}`}>{a.name}</a>
                    <AgentSummary a={a} cls="row" />
                  </td>
                  <td>
                    <AgentBadge a={a} small />
                  </td>
                  <td>{wts.get(a.worktreeId)?.name || a.worktreeId}</td>
                  <td>{a.executor || 'claude'}</td>
                  <td>{a.mode || 'regular'}</td>
                  <td class="num">{Math.round(a.contextLevel || 0)}%</td>
                  <td class="num">{fmtInt(a.totalTokens ?? 0)}</td>
                  <td class="num agent-total-cost">{fmtCost(a.costUsd ?? 0)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {newTask.value && (
        <Suspense fallback={null}>
          <NewTask onClose={() => (newTask.value = false)} />
        </Suspense>
      )}
    </div>
  );
}

// The pages: a row of tabs on a wide screen; on a phone one button naming
// the current page that opens the whole list (eight tabs do not fit).
function PageNav({ current }: { current: string }) {
  const open = useSignal(false);
  const here = PAGES.find((p) => p.key === current) || PAGES[0];
  useEffect(() => {
    if (!open.value) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') open.value = false;
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [open.value]);
  return (
    <>
      <nav class="tabs" aria-label="Sections">
        {PAGES.map((p) => (
          <a key={p.key} href={p.href} class={`tab${current === p.key ? ' active' : ''}`} aria-current={current === p.key ? 'page' : undefined}>
            {p.label}
          </a>
        ))}
      </nav>
      <div class="page-menu">
        <button
          class="btn btn-sm page-menu-btn"
          aria-haspopup="true"
          aria-expanded={open.value}
          aria-controls="page-menu"
          onClick={() => (open.value = !open.value)}
        >
          {here.label} <span aria-hidden="true">▾</span>
        </button>
        {open.value && (
          <>
            <div class="page-menu-scrim" onClick={() => (open.value = false)} />
            <nav id="page-menu" class="page-menu-list" aria-label="Pages">
              {PAGES.map((p) => (
                <a
                  key={p.key}
                  href={p.href}
                  class={`page-menu-item${current === p.key ? ' active' : ''}`}
                  aria-current={current === p.key ? 'page' : undefined}
                  onClick={() => (open.value = false)}
                >
                  {p.label}
                </a>
              ))}
            </nav>
          </>
        )}
      </div>
    </>
  );
}

// The page opened (from the installed app's kept shell) while agentd is down.
function DaemonDown({ attempt, nextInMs }: { attempt: number; nextInMs: number }) {
  return (
    <main class="daemon-down" aria-live="polite">
      <h1>agentd is not running</h1>
      <p class="muted">
        Start it with <code>agentd serve</code> (or <code>systemctl --user start agentd</code>). This page asks again every few seconds (attempt {attempt}, next
        in {Math.round(nextInMs / 1000)} s) and opens once it answers.
      </p>
      <button class="btn" onClick={() => void askAgain(attempt + 1)}>
        Try now
      </button>
    </main>
  );
}

export function App() {
  const r = route.value;
  const navOpen = useSignal(false);
  // The phone's drawer closes on any navigation, and on Escape (before the
  // page's own Escape, e.g. back to the grid), its ☰ taking the focus back
  // (issue #74).
  const where = JSON.stringify(r);
  useEffect(() => {
    navOpen.value = false;
  }, [where]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape' || !navOpen.value) return;
      e.preventDefault();
      e.stopPropagation();
      navOpen.value = false;
      document.querySelector<HTMLElement>('.topbar .menu')?.focus();
    };
    document.addEventListener('keydown', onKey, true);
    return () => document.removeEventListener('keydown', onKey, true);
  }, []);
  if (auth.value.state === 'out') return <Login />;
  if (auth.value.state === 'checking') return <Spinner label="Connecting to agentd…" />;
  if (daemonDown.value) return <DaemonDown attempt={daemonDown.value.attempt} nextInMs={daemonDown.value.nextInMs} />;
  const collapsed = sidebarCollapsed.value;
  // ☰: the drawer on a phone; on a wide screen (shown while the sidebar is
  // folded away, remembered) it unfolds the sidebar.
  const toggleSide = () => {
    if (window.matchMedia('(max-width: 860px)').matches) navOpen.value = !navOpen.value;
    else setCollapsed(!collapsed);
  };
  return (
    <div class={`shell${navOpen.value ? ' nav-open' : ''}${collapsed ? ' side-collapsed' : ''}`}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar glass">
        <button class="icon-btn menu" aria-label="Workspaces" title="Workspaces" aria-expanded={navOpen.value} onClick={toggleSide}>
          ☰
        </button>
        <a class="brand" href="#/">
          <span class="logo" aria-hidden="true" />
          agentd
        </a>
        <PageNav current={pageOf(r)} />
        <SearchBox />
        <WhoAmI />
        <ConnIndicator />
      </header>
      <Sidebar onNavigate={() => (navOpen.value = false)} />
      <div class="scrim" onClick={() => (navOpen.value = false)} />
      <main id="main" class="main" tabIndex={-1}>
        {r.page === 'home' && <Home />}
        {r.page === 'agents' && <AgentsPage />}
        {r.page === 'grid' && (
          <Suspense fallback={<Spinner label="Loading the grid…" />}>
            <GridPage />
          </Suspense>
        )}
        {r.page === 'agent' && (
          <Suspense fallback={<Spinner />}>
            <AgentPage id={r.id} message={r.message} />
          </Suspense>
        )}
        {r.page === 'crews' && (
          <Suspense fallback={<Spinner label="Loading crews…" />}>
            <CrewsPage id={r.id} />
          </Suspense>
        )}
        {r.page === 'chats' && (
          <Suspense fallback={<Spinner label="Loading chats…" />}>
            <ChatsPage id={r.id} />
          </Suspense>
        )}
        {r.page === 'projects' && (
          <Suspense fallback={<Spinner label="Loading projects…" />}>
            <ProjectsPage id={r.id} />
          </Suspense>
        )}
        {r.page === 'definitions' && (
          <Suspense fallback={<Spinner label="Loading definitions…" />}>
            <DefinitionsPage name={r.id} />
          </Suspense>
        )}
        {r.page === 'analytics' && (
          <Suspense fallback={<Spinner />}>
            <Analytics />
          </Suspense>
        )}
        {r.page === 'run' && (
          <Suspense fallback={<Spinner />}>
            <RunPage id={r.id} />
          </Suspense>
        )}
        {r.page === 'health' && (
          <Suspense fallback={<Spinner />}>
            <HealthPage />
          </Suspense>
        )}
        {r.page === 'nodes' && (
          <Suspense fallback={<Spinner label="Loading nodes…" />}>
            <NodesPage />
          </Suspense>
        )}
        {r.page === 'routines' && (
          <Suspense fallback={<Spinner label="Loading routines…" />}>
            <RoutinesPage id={r.id} />
          </Suspense>
        )}
        {r.page === 'sessions' && (
          <Suspense fallback={<Spinner label="Looking for sessions…" />}>
            <SessionsPage />
          </Suspense>
        )}
        {r.page === 'settings' && (
          <Suspense fallback={<Spinner />}>
            <SettingsPage section={r.id} />
          </Suspense>
        )}
      </main>
      <ConfirmHost />
      <PaletteHost />
      <div class="toasts" aria-live="polite" aria-relevant="additions">
        {toasts.value.map((t) => (
          <div key={t.id} class={`toast glass toast-${t.level}`} role={t.level === 'error' ? 'alert' : 'status'}>
            <div class="toast-text">
              <div class="toast-title">
                {t.runId ? <a href={`#/runs/${t.runId}`}>{t.title}</a> : t.agentId ? <a href={`#/agents/${t.agentId}`}>{t.title}</a> : t.title}
              </div>
              {t.body && <div class="toast-body">{t.body}</div>}
            </div>
            <button class="icon-btn" aria-label="Dismiss" onClick={() => dismissToast(t.id)}>
              ×
            </button>
          </div>
        ))}
      </div>
    </div>
  );
}
