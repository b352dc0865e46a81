// The Nodes page (issue #34, docs/nodes.md): every worker node of the
// caller's organisation with its state, capabilities (CPU, memory, disk,
// GPUs, agent CLIs), health figures, runs, labels and when it was last
// seen; admins revoke one (its link drops at once). The operator's tools
// (issue #77): each node's schedule (ready, cordoned, draining, drained),
// its runs against its capacity and the starts queued for it, with admin
// buttons to drain, cordon, uncordon and set its capacity; and the queue of
// starts waiting for a node, each cancellable; a node's recent events
// (NodeEvents.tsx) under its row; for admins, registration tokens
// (RegTokens.tsx). Read again every few seconds
// while open: a node's figures change with its renewals.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, type QueuedStart, type WorkerNode } from '../api';
import { auth, toast } from '../store';
import { nodeCapacity, nodeFigures, nodeSchedule } from '../nodes';
import { ago, Empty, ErrorState, errText, Spinner } from './common';
import NodeEvents from './NodeEvents';
import RegTokens from './RegTokens';

export default function Nodes() {
  const list = useSignal<WorkerNode[] | null>(null);
  const queue = useSignal<QueuedStart[]>([]);
  const err = useSignal<string | null>(null);
  const opened = useSignal<string | null>(null); /* the node whose events show */
  const load = () =>
    Promise.all([api.nodes(), api.nodeQueue().catch(() => [] as QueuedStart[])])
      .then(([n, q]) => ((list.value = n), (queue.value = q), (err.value = null)))
      .catch((e) => (err.value = errText(e)));
  useEffect(() => {
    void load();
    const t = setInterval(() => void load(), 3000);
    return () => clearInterval(t);
  }, []);
  const who = auth.value.who;
  const admin = !who || !who.authRequired || who.owner || who.scope === 'admin';
  const revoke = async (n: WorkerNode) => {
    if (!confirm(`Revoke node "${n.name}"? Its link drops now, its token stops working and its runs are lost.`)) return;
    try {
      await api.revokeNode(n.id);
      toast('success', 'Node revoked', n.name);
      await load();
    } catch (e) {
      err.value = errText(e);
    }
  };

  const act = async (n: WorkerNode, what: 'drain' | 'cordon' | 'uncordon') => {
    if (what === 'drain' && !confirm(`Drain node "${n.name}"? It takes no new work; what runs there finishes.`)) return;
    try {
      await api.nodeAction(n.id, what);
      toast('success', `Node ${what === 'drain' ? 'draining' : what === 'cordon' ? 'cordoned' : 'uncordoned'}`, n.name);
      await load();
    } catch (e) {
      err.value = errText(e);
    }
  };
  const capacity = async (n: WorkerNode) => {
    const text = prompt(`The most runs "${n.name}" may have at once (empty: no bound):`, typeof n.maxRuns === 'number' ? String(n.maxRuns) : '');
    if (text === null) return;
    const max = text.trim() === '' ? null : Number(text.trim());
    if (max !== null && (!Number.isInteger(max) || max < 0)) {
      err.value = 'The capacity is a whole number of runs, 0 or more, or empty for no bound.';
      return;
    }
    try {
      await api.setNode(n.id, { maxRuns: max });
      toast('success', 'Capacity set', `${n.name}: ${max === null ? 'no bound' : max}`);
      await load();
    } catch (e) {
      err.value = errText(e);
    }
  };
  const cancel = async (q: QueuedStart) => {
    try {
      await api.cancelQueued(q.agentId);
      toast('success', 'Queued start cancelled', q.agentName || q.agentId);
      await load();
    } catch (e) {
      err.value = errText(e);
    }
  };

  if (err.value && !list.value) return <ErrorState message={`Could not read the nodes: ${err.value}`} onRetry={() => void load()} />;
  if (!list.value) return <Spinner label="Loading nodes…" />;
  return (
    <section class="page nodes-page" aria-label="Nodes">
      <h1>Nodes</h1>
      {list.value.length === 0 ? (
        <Empty title="No node has joined">
          On another machine: <code>agentd node --join URL --token-file FILE --name NAME</code>, with a token made by{' '}
          <code>agentd token create NAME --scope node</code>.
        </Empty>
      ) : (
        <table class="table nodes">
          <thead>
            <tr>
              <th>Node</th>
              <th>State</th>
              <th>Schedule</th>
              <th>Capabilities</th>
              <th>Health</th>
              <th class="num">Agents</th>
              <th class="num">Queued</th>
              <th>Last seen</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.value.map((n) => {
              const f = nodeFigures(n);
              const sched = nodeSchedule(n);
              return [
                <tr key={n.id} data-node={n.name} data-state={n.state} data-schedule={sched}>
                  <td title={n.id}>
                    <strong>{n.name}</strong>
                    <div class="node-labels">
                      {Object.entries(n.labels).map(([k, v]) => (
                        <span key={k} class="chip" title={n.labelsSet ? 'set from the control plane' : undefined}>
                          {k}={v}
                        </span>
                      ))}
                    </div>
                  </td>
                  <td>
                    <span
                      class={`node-state node-${n.state}`}
                      title={n.unreachableSince ? `since ${new Date(n.unreachableSince).toLocaleString()}` : undefined}
                    >
                      <span class="dot" aria-hidden="true" />
                      {n.state}
                    </span>
                    {n.plane && !n.plane.here && (
                      <div class="node-plane" title={n.plane.url ?? n.plane.id}>
                        via {n.plane.url ? new URL(n.plane.url).host : n.plane.id}
                      </div>
                    )}
                  </td>
                  <td class="node-schedule">
                    <span class={`chip node-sched-${sched}`}>{sched}</span>
                  </td>
                  <td class="node-caps">{f.caps}</td>
                  <td class="node-health">{f.health}</td>
                  <td class="num node-runs" title={typeof n.maxRuns === 'number' ? 'runs / capacity' : 'no capacity set'}>
                    {nodeCapacity(n)}
                  </td>
                  <td class="num node-queued">{n.queued ?? 0}</td>
                  <td>{ago(n.lastSeenAt)}</td>
                  <td class="node-actions">
                    <button
                      type="button"
                      class="btn btn-sm"
                      aria-expanded={opened.value === n.id}
                      onClick={() => (opened.value = opened.value === n.id ? null : n.id)}
                    >
                      Events
                    </button>
                    {admin && n.state !== 'revoked' && (
                      <>
                        {!n.draining && (
                          <button type="button" class="btn btn-sm" onClick={() => void act(n, 'drain')}>
                            Drain
                          </button>
                        )}
                        {!n.cordoned && (
                          <button type="button" class="btn btn-sm" onClick={() => void act(n, 'cordon')}>
                            Cordon
                          </button>
                        )}
                        {n.cordoned && (
                          <button type="button" class="btn btn-sm" onClick={() => void act(n, 'uncordon')}>
                            Uncordon
                          </button>
                        )}
                        <button type="button" class="btn btn-sm" onClick={() => void capacity(n)}>
                          Capacity
                        </button>
                        <button type="button" class="btn btn-sm" onClick={() => void revoke(n)}>
                          Revoke
                        </button>
                      </>
                    )}
                  </td>
                </tr>,
                opened.value === n.id && (
                  <tr key={`${n.id}-events`} class="node-events-row" data-events-of={n.name}>
                    <td colSpan={9}>
                      <NodeEvents id={n.id} />
                    </td>
                  </tr>
                ),
              ];
            })}
          </tbody>
        </table>
      )}
      <h2>Queue</h2>
      {queue.value.length === 0 ? (
        <p class="muted nodes-queue-empty">No start is waiting for a node. A start asked with “queue” waits here for a node with room.</p>
      ) : (
        <table class="table nodes-queue" aria-label="Queued starts">
          <thead>
            <tr>
              <th>Agent</th>
              <th>Waiting since</th>
              <th>Why</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {queue.value.map((q) => (
              <tr key={q.agentId} data-agent={q.agentId}>
                <td>
                  <a href={`#/agents/${q.agentId}`}>{q.agentName || q.agentId}</a>
                </td>
                <td>{ago(q.queuedAt)}</td>
                <td class="node-queue-why">{q.reasons}</td>
                <td>
                  <button type="button" class="btn btn-sm" onClick={() => void cancel(q)}>
                    Cancel
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {admin && <RegTokens />}
      {err.value && (
        <div class="form-error" role="alert">
          {err.value}
        </div>
      )}
    </section>
  );
}
