// A running agent whose transcript is still empty (issue #74). A command
// agent that prints only metric lines says nothing a transcript shows, and
// its page read "Waiting for the agent's first words…" for its whole run:
// this says that it runs and since when, and shows its run's latest metric
// values, read again (throttled) as points arrive.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api } from '../api';
import { loadRuns, metricsTick, runsByAgent } from '../store';
import type { Agent } from '../types';
import { ago } from './common';
import { useThrottled } from './useThrottled';

interface Series {
  name: string;
  count: number;
  lastStep?: number | null;
  lastValue?: number | null;
}

const fmt = (v: number | null | undefined) => (typeof v === 'number' ? (Number.isInteger(v) ? v.toLocaleString() : v.toPrecision(4)) : '–');

export function QuietRun({ agent }: { agent: Agent }) {
  const run = (runsByAgent.value[agent.id] || []).filter((r) => r.status === 'running').sort((a, b) => (b.startedAt || '').localeCompare(a.startedAt || ''))[0];
  const series = useSignal<Series[]>([]);
  const read = () => {
    if (run)
      api.runSeries(run.id).then(
        (r: any) => (series.value = Array.isArray(r?.series) ? r.series : []),
        () => undefined,
      );
  };
  useEffect(() => {
    loadRuns(agent.id).catch(() => undefined);
  }, [agent.id, agent.status]);
  useEffect(read, [run?.id]);
  useThrottled(metricsTick.value, 1000, read);
  return (
    <div class="state state-empty quiet-run" role="status" aria-label="The agent is running">
      <div class="empty-title">
        <span class="badge badge-running">
          <span class="dot" aria-hidden="true" /> Running
        </span>
        {run?.startedAt ? `, started ${ago(run.startedAt)}` : ''}
      </div>
      {series.value.length === 0 ? (
        <div class="empty-body">Nothing to show in the transcript yet: its messages and metrics appear here as it prints them.</div>
      ) : (
        <>
          <div class="empty-body">No messages yet; its metrics so far:</div>
          <table class="table quiet-metrics" aria-label="Latest metrics">
            <thead>
              <tr>
                <th>Metric</th>
                <th class="num">Latest</th>
                <th class="num">Step</th>
                <th class="num">Points</th>
              </tr>
            </thead>
            <tbody>
              {series.value.map((s) => (
                <tr key={s.name}>
                  <td class="mono">{s.name}</td>
                  <td class="num">{fmt(s.lastValue)}</td>
                  <td class="num">{fmt(s.lastStep)}</td>
                  <td class="num">{s.count.toLocaleString()}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {run && <a href={`#/runs/${encodeURIComponent(run.id)}`}>Charts of this run</a>}
        </>
      )}
    </div>
  );
}
