// The Nodes page (issue #34, docs/nodes.md): every worker node of the
// caller's organisation with its state, capabilities (CPU, memory, disk,
// GPUs, agent CLIs), health figures, runs, labels and when it was last
// seen; admins revoke one (its link drops at once). Read again every few
// seconds while open: a node's figures change with its renewals.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, type WorkerNode } from '../api';
import { auth, toast } from '../store';
import { nodeFigures } from '../nodes';
import { ago, Empty, ErrorState, errText, Spinner } from './common';

export default function Nodes() {
  const list = useSignal<WorkerNode[] | null>(null);
  const err = useSignal<string | null>(null);
  const load = () =>
    api
      .nodes()
      .then((n) => ((list.value = n), (err.value = null)))
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
              <th>Capabilities</th>
              <th>Health</th>
              <th class="num">Agents</th>
              <th>Last seen</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.value.map((n) => {
              const f = nodeFigures(n);
              return (
                <tr key={n.id} data-node={n.name} data-state={n.state}>
                  <td title={n.id}>
                    <strong>{n.name}</strong>
                    <div class="node-labels">
                      {Object.entries(n.labels).map(([k, v]) => (
                        <span key={k} class="chip">
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
                  </td>
                  <td class="node-caps">{f.caps}</td>
                  <td class="node-health">{f.health}</td>
                  <td class="num node-runs">{n.runs}</td>
                  <td>{ago(n.lastSeenAt)}</td>
                  <td>
                    {admin && n.state !== 'revoked' && (
                      <button type="button" class="btn btn-sm" onClick={() => void revoke(n)}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {err.value && (
        <div class="form-error" role="alert">
          {err.value}
        </div>
      )}
    </section>
  );
}
