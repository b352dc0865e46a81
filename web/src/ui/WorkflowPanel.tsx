// A crew that a workflow runs (docs/workbench.md): its steps in order with
// their state, output and cost, kept live by the workflow_update events of
// crew:<id> (the crew page's topic, shared on the page's one /ws), and a
// Stop while it runs. A crew made by hand has no workflow: nothing shows.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, type Workflow } from '../api';
import { socket, toast } from '../store';
import type { Envelope } from '../types';
import { Badge, errText, fmtCost } from './common';

export function WorkflowPanel({ crewId }: { crewId: string }) {
  const wf = useSignal<Workflow | null>(null);
  const busy = useSignal(false);
  // The workflow is read once the server holds crew:<id> for this page (a
  // read before that could miss a step that ended in between, and nothing
  // would say it again), and again after a resync. A read that an event
  // overtook is older than that event and is dropped.
  useEffect(() => {
    wf.value = null;
    let events = 0;
    const load = () => {
      const at = events;
      api
        .workflows()
        .then((all) => {
          if (events === at) wf.value = all.find((w) => w.crewId === crewId) ?? null;
        })
        .catch(() => {});
    };
    return socket.subscribe([`crew:${crewId}`], {
      onEvent: (ev: Envelope) => {
        if (ev.type !== 'workflow_update' || ev.payload?.crewId !== crewId) return;
        events++;
        wf.value = ev.payload as Workflow;
      },
      onResync: load,
      onSubscribed: load,
    });
  }, [crewId]);
  const w = wf.value;
  if (!w) return null;
  const stop = async () => {
    busy.value = true;
    try {
      wf.value = await api.workflowStop(w.id);
    } catch (e) {
      toast('error', 'Not stopped', errText(e));
    } finally {
      busy.value = false;
    }
  };
  return (
    <section class="workflow-panel" aria-label={`Workflow ${w.name}`} data-workflow={w.id} data-status={w.status}>
      <div class="page-head">
        <h3>Workflow {w.name}</h3>
        <Badge status={w.status} small />
        {w.spec.budgetUsd ? <span class="muted">budget {fmtCost(w.spec.budgetUsd)}</span> : null}
        {w.status === 'running' && (
          <button class="btn btn-sm" disabled={busy.value} onClick={() => void stop()}>
            Stop workflow
          </button>
        )}
      </div>
      <ol class="workflow-steps">
        {w.spec.steps.map((s) => {
          const x = w.state.steps[s.id] ?? { status: 'pending' };
          return (
            <li key={s.id} data-step={s.id} data-status={x.status}>
              <div class="workflow-step-head">
                <strong>{s.id}</strong>
                <Badge status={x.status} small />
                {s.needs.length ? <span class="muted">after {s.needs.join(', ')}</span> : null}
                {x.agentId && <a href={`#/agents/${x.agentId}`}>agent</a>}
                {typeof x.costUsd === 'number' && x.costUsd > 0 ? <span class="muted">{fmtCost(x.costUsd)}</span> : null}
              </div>
              {x.error && <div class="workflow-step-error">{x.error}</div>}
              {x.output && <pre class="workflow-step-output">{x.output}</pre>}
            </li>
          );
        })}
      </ol>
    </section>
  );
}
