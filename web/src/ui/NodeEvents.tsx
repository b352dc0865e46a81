// A node's recent events on the Nodes page (issue #77, docs/nodes.md "A
// node's history"): linked, unlinked and why, drained, cordoned, runs
// placed, ended or lost, moved to another plane, its key traded. Read when
// opened and again every few seconds while it stays open.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, type NodeEvent } from '../api';
import { ago, errText } from './common';

/** What an event's detail says, in a few words (its plane left out). */
export function eventDetail(e: NodeEvent): string {
  const d = e.detail || {};
  const parts: string[] = [];
  for (const [k, v] of Object.entries(d)) {
    if (k === 'plane' || v === null || v === undefined) continue;
    parts.push(`${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  }
  return parts.join(', ');
}

export default function NodeEvents({ id }: { id: string }) {
  const list = useSignal<NodeEvent[] | null>(null);
  const err = useSignal<string | null>(null);
  useEffect(() => {
    const load = () =>
      api
        .nodeEvents(id, 20)
        .then((e) => ((list.value = e), (err.value = null)))
        .catch((e) => (err.value = errText(e)));
    void load();
    const t = setInterval(() => void load(), 3000);
    return () => clearInterval(t);
  }, [id]);
  if (err.value && !list.value) return <p class="form-error">Could not read its events: {err.value}</p>;
  if (!list.value) return <p class="muted">Loading its events…</p>;
  if (list.value.length === 0) return <p class="muted">Nothing has happened to this node yet.</p>;
  return (
    <ol class="node-events" aria-label="Recent events">
      {list.value.map((e) => (
        <li key={e.id} data-kind={e.kind}>
          <span class="muted" title={new Date(e.at).toLocaleString()}>
            {ago(e.at)}
          </span>{' '}
          <strong>{e.kind.replace(/_/g, ' ')}</strong> <span class="node-event-detail">{eventDetail(e)}</span>
        </li>
      ))}
    </ol>
  );
}
