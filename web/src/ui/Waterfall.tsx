// A run's trace as a waterfall: the run's span, agentd's turns, tool calls
// and approval waits, and the spans its program sent to agentd's OTLP
// receiver (a Claude CLI's interactions and model calls), each a bar on the
// run's time line, nested under its parent. Read from GET
// /api/runs/:id/trace; read again every two seconds while the run runs, and
// for a few seconds after it ended: spans reach the store in batches a second
// apart, so a program's last ones land just after its run's end.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api } from '../api';
import { formatDuration } from '../events';
import { layoutTrace, type Trace } from '../trace';
import { Empty, ErrorState, errText, Spinner } from './common';

const POLL_MS = 2000;
const SETTLE_MS = 5000;

// Spans may still be on their way to the store.
function settling(t: Trace): boolean {
  return !t.run.endedAt || Date.now() - Date.parse(t.run.endedAt) < SETTLE_MS;
}

export function Waterfall({ runId, running }: { runId: string; running: boolean }) {
  const trace = useSignal<Trace | null>(null);
  const err = useSignal('');
  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const t = await api.runTrace(runId);
        if (stop) return;
        trace.value = t;
        err.value = '';
        if (settling(t)) timer = setTimeout(load, POLL_MS);
      } catch (e) {
        if (!stop) err.value = errText(e);
      }
    };
    trace.value = null;
    void load();
    return () => {
      stop = true;
      if (timer) clearTimeout(timer);
    };
  }, [runId, running]);
  if (err.value) return <ErrorState message={err.value} />;
  const t = trace.value;
  if (!t) return <Spinner label="Loading the trace…" />;
  const rows = layoutTrace(t, Date.now());
  return (
    <section class="panel glass waterfall" aria-label={`Trace of ${runId}`} data-trace={t.traceId}>
      <header class="waterfall-head">
        <h3>Trace</h3>
        <code title="trace id">{t.traceId}</code>
        <span class="muted">{rows.length - 1} spans</span>
      </header>
      {rows.length === 1 && <Empty title="No spans yet">Tool calls, turns and the spans the run's program sends show here.</Empty>}
      <ol class="waterfall-rows">
        {rows.map((r) => (
          <li key={r.id} class={`waterfall-row src-${r.source}${r.error ? ' is-error' : ''}`} data-span={r.id} data-depth={r.depth} title={r.title}>
            <span class="waterfall-name" style={{ paddingLeft: `${r.depth * 14}px` }}>
              {r.name}
              {r.service && r.source === 'run' ? <span class="waterfall-service"> · {r.service}</span> : null}
            </span>
            <span class="waterfall-track">
              <span class="waterfall-bar" style={{ left: `${(r.left * 100).toFixed(3)}%`, width: `max(2px, ${(r.width * 100).toFixed(3)}%)` }} />
            </span>
            <span class="waterfall-dur">{formatDuration(r.durationMs)}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}
