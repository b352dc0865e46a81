// The Sessions page (issue #76, docs/sessions.md): the sessions Claude Code,
// Codex and Gemini CLI keep on this machine and on the organisation's nodes
// outside agentd, newest first, with their node, folder, branch, first and
// last message and whether a process still writes them; this machine's live
// as external_session events (topic "sessions") arrive, the nodes' read again
// every few seconds. A row opens the session read-only (its messages, read
// again as it changes while live); Adopt makes an agent of an ended one and
// opens it (a node's into the worktree chosen beside it, pinned to its node).
// A session an agent holds links to that agent.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api } from '../api';
import { liveTopic } from '../livetopic';
import { go } from '../router';
import { adoptable, folderName, sessionKey, upsertSession, type ExternalMessage, type ExternalSession, type SessionNode } from '../sessions';
import type { Worktree } from '../types';
import { toast } from '../store';
import { ago, Empty, ErrorState, errText, Spinner } from './common';

function Messages({ s, version }: { s: ExternalSession; version: number }) {
  const msgs = useSignal<ExternalMessage[] | null>(null);
  const err = useSignal<string | null>(null);
  useEffect(() => {
    api
      .externalSession(s.tool, s.sessionId, s.node?.id)
      .then((r) => ((msgs.value = r.messages), (err.value = null)))
      .catch((e) => (err.value = errText(e)));
  }, [s.tool, s.sessionId, s.node?.id, version]);
  if (err.value)
    return (
      <div class="form-error" role="alert">
        {err.value}
      </div>
    );
  if (!msgs.value) return <Spinner label="Reading the session…" />;
  return (
    <ol class="ext-messages" aria-label="The session's messages">
      {msgs.value.map((m, i) => (
        <li key={i} class={`ext-msg ext-${m.role}`} data-role={m.role}>
          <span class="ext-role">{m.role === 'tool' ? m.toolName || 'tool' : m.role}</span>
          <span class="ext-text">{m.role === 'tool' ? m.toolOutput || m.toolInput || '' : m.content}</span>
        </li>
      ))}
    </ol>
  );
}

export default function Sessions() {
  const list = useSignal<ExternalSession[] | null>(null);
  const err = useSignal<string | null>(null);
  const open = useSignal<string | null>(null);
  const version = useSignal(0);
  const busy = useSignal<string | null>(null);
  const nodes = useSignal<SessionNode[]>([]);
  const worktrees = useSignal<Worktree[]>([]);
  const into = useSignal<Record<string, string>>({}); /* a node session's worktree, by key */
  const load = () =>
    api
      .externalSessions()
      .then((r) => {
        list.value = r.sessions;
        nodes.value = r.nodes;
        err.value = null;
        /* a node's session is adopted into one of the worktrees: offered beside it */
        if (r.sessions.some((x) => x.node))
          void api
            .worktrees()
            .then((w) => (worktrees.value = w))
            .catch(() => undefined);
      })
      .catch((e) => (err.value = errText(e)));
  useEffect(() => {
    void load();
    /* a node's sessions come with the list only (and a node may join): read again while the page is open */
    const poll = setInterval(() => void load(), 5000);
    const off = liveTopic(
      ['sessions'],
      (type, p) => {
        if (type !== 'external_session' || !p?.session || !list.value) return;
        list.value = upsertSession(list.value, p.session);
        if (open.value === sessionKey(p.session)) version.value++;
      },
      () => void load(),
    );
    return () => (clearInterval(poll), off());
  }, []);
  const adopt = async (s: ExternalSession) => {
    busy.value = sessionKey(s);
    try {
      const ag = await api.adoptSession(s.tool, s.sessionId, s.node?.id, s.node ? into.value[sessionKey(s)] : undefined);
      toast('success', 'Session adopted', ag.name);
      go(`/agents/${ag.id}`);
    } catch (e) {
      err.value = errText(e);
    } finally {
      busy.value = null;
    }
  };

  if (err.value && !list.value) return <ErrorState message={`Could not read the sessions: ${err.value}`} onRetry={() => void load()} />;
  if (!list.value) return <Spinner label="Looking for sessions…" />;
  return (
    <section class="page sessions-page" aria-label="Sessions">
      <h1>Sessions on this machine and its nodes</h1>
      <p class="muted">
        Claude Code's, Codex's and Gemini CLI's own sessions, started outside agentd. Adopt one to carry it on here: its history comes along and its next start
        resumes it (a node's, on that node, in the worktree you choose).
      </p>
      {nodes.value
        .filter((n) => !n.listed)
        .map((n) => (
          <p key={n.id} class="muted ext-node-away" data-node={n.name}>
            Node {n.name}: not listed ({n.error ?? n.state})
          </p>
        ))}
      {err.value && (
        <div class="form-error" role="alert">
          {err.value}
        </div>
      )}
      {list.value.length === 0 ? (
        <Empty title="No session found">
          agentd reads <code>~/.claude/projects</code>, <code>~/.codex/sessions</code> and <code>~/.gemini/tmp</code> of the user it runs as.
        </Empty>
      ) : (
        <div class="ext-scroll">
          <table class="table ext-sessions">
            <thead>
              <tr>
                <th>Tool</th>
                <th>Node</th>
                <th>Folder</th>
                <th>Branch</th>
                <th>Conversation</th>
                <th>Last activity</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.value.map((s) => {
                const key = sessionKey(s);
                return [
                  <tr
                    key={key}
                    data-session={s.sessionId}
                    data-node={s.node?.name ?? ''}
                    data-live={s.live ? 'yes' : 'no'}
                    class={open.value === key ? 'selected' : ''}
                  >
                    <td>{s.tool}</td>
                    <td class="ext-node">{s.node ? s.node.name : <span class="muted">this machine</span>}</td>
                    <td title={s.cwd ?? ''}>{folderName(s.cwd)}</td>
                    <td>{s.gitBranch ?? '—'}</td>
                    <td>
                      <button type="button" class="ext-open" aria-expanded={open.value === key} onClick={() => (open.value = open.value === key ? null : key)}>
                        {s.firstMessage || s.sessionId}
                      </button>
                      {s.lastMessage && s.lastMessage !== s.firstMessage && <div class="muted ext-last">{s.lastMessage}</div>}
                    </td>
                    <td>
                      {s.live && <span class="chip ext-live">live</span>} {ago(s.lastActivity)}
                    </td>
                    <td>
                      {s.agentId ? (
                        <a class="btn btn-sm" href={`#/agents/${encodeURIComponent(s.agentId)}`}>
                          Open agent
                        </a>
                      ) : !adoptable(s) ? (
                        <span class="muted" title="agentd does not adopt this tool's sessions">
                          view only
                        </span>
                      ) : (
                        <>
                          {s.node && (
                            <select
                              class="ext-into"
                              aria-label="The worktree to adopt it into"
                              value={into.value[key] ?? ''}
                              onChange={(e) => (into.value = { ...into.value, [key]: (e.target as HTMLSelectElement).value })}
                            >
                              <option value="">its worktree on the node</option>
                              {worktrees.value.map((w) => (
                                <option key={w.id} value={w.id}>
                                  {w.name}
                                </option>
                              ))}
                            </select>
                          )}
                          <button
                            type="button"
                            class="btn btn-sm"
                            disabled={s.live || busy.value === key}
                            title={s.live ? 'still being written outside agentd: adopt it once it ends' : undefined}
                            onClick={() => void adopt(s)}
                          >
                            Adopt
                          </button>
                        </>
                      )}
                    </td>
                  </tr>,
                  open.value === key && (
                    <tr key={key + '/messages'} class="ext-detail">
                      <td colSpan={7}>
                        <Messages s={s} version={version.value} />
                      </td>
                    </tr>
                  ),
                ];
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
