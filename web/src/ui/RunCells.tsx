// The cells every runs table shows after a run's name (issue #35): its
// agent, status, start and duration.
import { Badge } from './common';

export function fmtDuration(ms?: number | null) {
  if (ms === null || ms === undefined) return '–';
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

export function RunCells({ r }: { r: { agentName?: string; status: string; startedAt?: string | null; durationMs?: number | null } }) {
  return (
    <>
      <td>{r.agentName}</td>
      <td>
        <Badge status={r.status} small />
      </td>
      <td>{r.startedAt ? new Date(r.startedAt).toLocaleString() : '–'}</td>
      <td>{fmtDuration(r.durationMs)}</td>
    </>
  );
}
