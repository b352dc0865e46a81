// The Health page's cards (issue #17): the score with its reasons, CPU,
// memory and GPU figures with threshold warnings and sparklines, and each
// running agent's use. Views only: the page polls (useHealth.ts).
import { type Health, type HealthHistory } from '../api';
import { fmtBytes, fmtNum, sparkPath } from '../healthfmt';
import { agentList } from '../store';

export function Spark({ h, k, threshold, top, label }: { h: HealthHistory; k: string; threshold?: number; top?: number; label: string }) {
  const values = h.series[k] || [];
  const max = h.max?.[k];
  const x0 = h.from;
  const x1 = h.from + h.rangeSec * 1000;
  const hi = Math.max(top || 0, threshold || 0, ...values.filter((v): v is number => v !== null), ...(max || []).filter((v): v is number => v !== null), 1e-9);
  const n = values.filter((v) => v !== null).length;
  return (
    <svg class="spark" viewBox="0 0 100 30" preserveAspectRatio="none" role="img" aria-label={`${label}: ${n} points`} data-points={n}>
      {threshold !== undefined && <line class="spark-threshold" x1="0" x2="100" y1={30 - (threshold / hi) * 30} y2={30 - (threshold / hi) * 30} />}
      {max && <path class="spark-max" d={sparkPath(max, hi, h.t, x0, x1)} />}
      <path class="spark-line" d={sparkPath(values, hi, h.t, x0, x1)} />
    </svg>
  );
}

export function Metric({
  label,
  value,
  unit,
  threshold,
  digits = 0,
  testid,
}: {
  label: string;
  value: number | null | undefined;
  unit: string;
  threshold?: number;
  digits?: number;
  testid?: string;
}) {
  const warn = value !== null && value !== undefined && threshold !== undefined && value > threshold;
  return (
    <div class={`metric${warn ? ' warn' : ''}`} data-testid={testid} data-warning={warn ? 'true' : 'false'}>
      <span class="metric-label">{label}</span>
      <span class="metric-value">
        {value === null || value === undefined ? '–' : `${fmtNum(value, digits)} ${unit}`}
        {warn && (
          <span class="warn-icon" role="img" aria-label={`above ${threshold} ${unit}`}>
            {' '}
            ⚠
          </span>
        )}
      </span>
    </div>
  );
}

export function ScoreCard({ h }: { h: Health }) {
  const score = h.score ?? 0;
  const tone = score >= 90 ? 'good' : score >= 60 ? 'fair' : 'poor';
  return (
    <section class={`panel glass score score-${tone}`} aria-label="Health score">
      <div>
        <h2>Health score</h2>
        {h.reasons && h.reasons.length > 0 ? (
          <ul class="reasons">
            {h.reasons.map((r) => (
              <li key={r.code} data-code={r.code}>
                {r.message} <span class="muted">(−{r.penalty})</span>
              </li>
            ))}
          </ul>
        ) : (
          <p class="muted">Every reading is within its threshold.</p>
        )}
      </div>
      <div class="score-value" data-testid="score">
        {score}
        <span class="muted">/100</span>
      </div>
    </section>
  );
}

export function CpuCard({ h, hist }: { h: Health; hist: HealthHistory | null }) {
  const t = h.thresholds || {};
  const mem = h.memory;
  const memPct = mem ? (100 * mem.used) / mem.total : null;
  return (
    <section class="panel glass hcard" aria-label="CPU">
      <h2>CPU</h2>
      <Metric label="Utilisation" value={h.cpu?.utilization} unit="%" threshold={t.cpuUtilization} testid="cpu-util" />
      {hist && <Spark label="CPU utilisation" h={hist} k="cpu" threshold={t.cpuUtilization} top={100} />}
      <Metric label="Temperature" value={h.cpu?.temperature} unit="°C" threshold={t.cpuTemperature} testid="cpu-temp" />
      <div class="metric">
        <span class="metric-label">Load</span>
        <span class="metric-value">{h.cpu?.load ? h.cpu.load.map((l) => l.toFixed(2)).join(' · ') : '–'}</span>
      </div>
      <div class="metric">
        <span class="metric-label">Cores</span>
        <span class="metric-value cores" aria-label="per core">
          {(h.cpu?.cores || []).map((c, i) => (
            <span key={i} class="core" title={`core ${i}: ${c.toFixed(0)} %`} style={{ height: `${Math.max(2, c)}%` }} />
          ))}
        </span>
      </div>
      <h2>Memory</h2>
      <Metric label="RAM used" value={memPct} unit="%" threshold={t.memoryUsed} testid="mem-used" />
      <div class="metric">
        <span class="metric-label" />
        <span class="metric-value muted">{mem ? `${fmtBytes(mem.used)} of ${fmtBytes(mem.total)}` : '–'}</span>
      </div>
      {hist && mem && <Spark label="memory used" h={hist} k="memUsed" top={mem.total} />}
      {mem && mem.swapTotal > 0 && (
        <div class="metric">
          <span class="metric-label">Swap</span>
          <span class="metric-value">{`${fmtBytes(mem.swapUsed)} of ${fmtBytes(mem.swapTotal)}`}</span>
        </div>
      )}
      <Metric label="Disk used (data dir)" value={h.disk ? (100 * h.disk.used) / h.disk.total : null} unit="%" threshold={t.diskUsed} testid="disk-used" />
    </section>
  );
}

export function GpuCard({ h, hist }: { h: Health; hist: HealthHistory | null }) {
  const t = h.thresholds || {};
  const g = h.gpu;
  if (!g || !g.available) {
    return (
      <section class="panel glass hcard" aria-label="GPU">
        <h2>GPU</h2>
        <p class="muted" data-testid="no-gpu">
          No GPU figures: {g?.reason || 'not sampled yet'}
        </p>
      </section>
    );
  }
  return (
    <section class="panel glass hcard" aria-label="GPU">
      <h2>GPU</h2>
      <p class="muted small">
        driver {g.driverVersion || '?'} · CUDA {g.cudaVersion || '?'}
      </p>
      {(g.devices || []).map((d) => (
        <div key={d.index} class="gpu" data-gpu={d.index}>
          <h3>{d.name}</h3>
          <Metric label="Utilisation" value={d.utilization} unit="%" threshold={t.gpuUtilization} testid={`gpu${d.index}-util`} />
          <Metric label="Temperature" value={d.temperature} unit="°C" threshold={t.gpuTemperature} testid={`gpu${d.index}-temp`} />
          <Metric label="Power draw" value={d.powerDraw} unit="W" threshold={t.gpuPower} digits={0} testid={`gpu${d.index}-power`} />
          <div class="metric">
            <span class="metric-label">VRAM</span>
            <span class="metric-value">{d.vramTotal ? `${fmtBytes(d.vramUsed || 0)} of ${fmtBytes(d.vramTotal)}` : '–'}</span>
          </div>
        </div>
      ))}
      {hist && <Spark label="GPU utilisation" h={hist} k="gpuUtil" threshold={t.gpuUtilization} top={100} />}
      {hist && <Spark label="GPU temperature" h={hist} k="gpuTemp" threshold={t.gpuTemperature} />}
    </section>
  );
}

export function AgentsTable({ h }: { h: Health }) {
  const names = new Map(agentList.value.map((a) => [a.id, a.name]));
  const rows = h.agents || [];
  return (
    <section class="panel glass" aria-label="Agents">
      <h2>Agents</h2>
      {rows.length === 0 ? (
        <p class="muted">No agent is running.</p>
      ) : (
        <table class="table agent-use">
          <thead>
            <tr>
              <th>Agent</th>
              <th class="num">CPU</th>
              <th class="num">Memory</th>
              <th class="num">GPU memory</th>
              <th class="num">Processes</th>
              <th>Measured from</th>
            </tr>
          </thead>
          <tbody>
            {[...rows]
              .sort((a, b) => (b.cpuPercent || 0) - (a.cpuPercent || 0))
              .map((a) => (
                <tr key={a.agentId} data-agent={a.agentId}>
                  <td>
                    <a href={`#/agents/${a.agentId}`}>{names.get(a.agentId) || a.agentId}</a>
                  </td>
                  <td class="num">{a.cpuPercent === null ? '–' : `${fmtNum(a.cpuPercent, 1)} %`}</td>
                  <td class="num">{fmtBytes(a.rssBytes)}</td>
                  <td class="num">{a.gpuMemoryBytes ? fmtBytes(a.gpuMemoryBytes) : '–'}</td>
                  <td class="num">{a.processes || '–'}</td>
                  <td>{a.source === 'cgroup' ? 'its cgroup' : 'its process group'}</td>
                </tr>
              ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
