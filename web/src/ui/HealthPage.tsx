// The Health page (issue #17): the machine as agentd samples it. CPU, GPU
// and memory cards with threshold warnings and sparklines over the chosen
// range, the health score with the reasons that lower it, each running
// agent's CPU, memory and GPU memory, jobs with their progress, and the
// requirements checklist.
// /api/health is polled while the page is open (cheap: the sampler has the
// figures already); the history is fetched per range.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, ApiError, type ConfigField, type Health, type HealthHistory, type Job, type Requirement, type Service } from '../api';
import { fmtBytes, fmtNum, sparkPath } from '../healthfmt';
import { agentList } from '../store';
import { Badge, Empty, ErrorState, errText, Spinner } from './common';

export const RANGES = ['5m', '15m', '1h', '6h', '24h', '7d', 'all'];

function Spark({ h, k, threshold, top, label }: { h: HealthHistory; k: string; threshold?: number; top?: number; label: string }) {
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

function Metric({
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

function ScoreCard({ h }: { h: Health }) {
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

function CpuCard({ h, hist }: { h: Health; hist: HealthHistory | null }) {
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

function GpuCard({ h, hist }: { h: Health; hist: HealthHistory | null }) {
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

function AgentsTable({ h }: { h: Health }) {
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

const SERVICE_BADGE: Record<string, string> = { running: 'running', backoff: 'waiting', stopping: 'waiting', failed: 'error', stopped: 'finished' };

function FieldInput({ name, idBase, f, value, onChange }: { name: string; idBase: string; f: ConfigField; value: unknown; onChange: (v: unknown) => void }) {
  const id = `cfg-${idBase}-${name}`;
  const label = f.label || name;
  if (f.type === 'boolean') {
    return (
      <label class="check small" for={id}>
        <input id={id} type="checkbox" checked={!!value} onChange={(e) => onChange(e.currentTarget.checked)} /> {label}
      </label>
    );
  }
  const num = f.type === 'integer' || f.type === 'number';
  return (
    <label class="cfg-field" for={id}>
      <span>{label}</span>
      {f.enum ? (
        <select id={id} value={String(value ?? '')} onChange={(e) => onChange(num ? Number(e.currentTarget.value) : e.currentTarget.value)}>
          {f.enum.map((o) => (
            <option key={String(o)} value={String(o)}>
              {String(o)}
            </option>
          ))}
        </select>
      ) : num ? (
        <input
          id={id}
          type="number"
          min={f.min}
          max={f.max}
          step={f.type === 'integer' ? 1 : 'any'}
          value={value === undefined || value === null ? '' : String(value)}
          onInput={(e) => onChange(e.currentTarget.value === '' ? undefined : Number(e.currentTarget.value))}
        />
      ) : (
        <input
          id={id}
          type="text"
          maxLength={f.maxLength}
          value={value === undefined || value === null ? '' : String(value)}
          onInput={(e) => onChange(e.currentTarget.value)}
        />
      )}
    </label>
  );
}

function ServiceCard({ s, t, reload }: { s: Service; t: Record<string, number>; reload: () => void }) {
  const form = useSignal<Record<string, unknown>>({ ...s.config });
  const msg = useSignal<string | null>(null);
  const busy = useSignal(false);
  const rt = s.runtime || { status: 'stopped' };
  const fields = Object.entries(s.schema?.fields || {});
  const fig = rt.figures || {};
  const apply = async () => {
    busy.value = true;
    msg.value = null;
    try {
      await api.patchService(s.id, { config: form.value });
      await api.restartService(s.id);
      msg.value = 'Applied; restarting…';
      reload();
    } catch (e) {
      msg.value = errText(e);
    } finally {
      busy.value = false;
    }
  };
  const test = async () => {
    msg.value = null;
    try {
      const r = await api.testService(s.id);
      msg.value = r.ok ? `Connection ok in ${r.latencyMs.toFixed(2)} ms` : `Probe failed: ${r.error} (${r.latencyMs.toFixed(0)} ms)`;
    } catch (e) {
      msg.value = errText(e);
    }
  };
  return (
    <div class="service" data-service={s.id} data-status={rt.status}>
      <div class="service-head">
        <h3>{s.name}</h3>
        <Badge status={SERVICE_BADGE[rt.status] || rt.status} small />
        <span class="muted small">
          {rt.status}
          {rt.restarts ? `, ${rt.restarts} restarts` : ''}
        </span>
      </div>
      {rt.health && <Metric label={`Health (${rt.health.status})`} value={rt.health.latencyMs} unit="ms" digits={2} testid={`svc-${s.id}-health`} />}
      {fig.fps !== undefined && <Metric label="Frame rate" value={fig.fps} unit="FPS" threshold={undefined} testid={`svc-${s.id}-fps`} />}
      {fig.fps !== undefined && t.serviceFps !== undefined && fig.fps < t.serviceFps && (
        <p class="warn-line" role="status">
          ⚠ below {t.serviceFps} FPS
        </p>
      )}
      {fig.latency !== undefined && (
        <Metric label="Latency" value={fig.latency} unit="ms" threshold={t.serviceLatency} digits={2} testid={`svc-${s.id}-latency`} />
      )}
      {fig.pcieBandwidth !== undefined && <Metric label="PCIe bandwidth" value={fig.pcieBandwidth} unit="GB/s" digits={1} />}
      {rt.error && <p class="field-error">{rt.error}</p>}
      {fields.length > 0 && (
        <form
          class="cfg"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            void apply();
          }}
        >
          {fields.map(([k, f]) => (
            <FieldInput key={k} name={k} idBase={s.id} f={f} value={form.value[k]} onChange={(v) => (form.value = { ...form.value, [k]: v })} />
          ))}
          {rt.pendingRestart && <p class="muted small">A changed config waits for a restart.</p>}
          <div class="form-actions">
            <button type="submit" class="btn btn-sm btn-primary" disabled={busy.value}>
              Apply &amp; Restart
            </button>
            {s.probe && (
              <button type="button" class="btn btn-sm" onClick={() => void test()}>
                Test connection
              </button>
            )}
          </div>
        </form>
      )}
      {fields.length === 0 && s.probe && (
        <button type="button" class="btn btn-sm" onClick={() => void test()}>
          Test connection
        </button>
      )}
      {msg.value && (
        <p class="service-msg" role="status">
          {msg.value}
        </p>
      )}
    </div>
  );
}

/** Services: long-running helpers, their health, figures and config. */
function ServicesPanel({ t }: { t: Record<string, number> }) {
  const list = useSignal<Service[] | null>(null);
  const err = useSignal<string | null>(null);
  const load = () =>
    api
      .services()
      .then((x) => ((list.value = x), (err.value = null)))
      .catch((e) => (err.value = errText(e)));
  useEffect(() => {
    load();
    const timer = setInterval(load, 2000);
    return () => clearInterval(timer);
  }, []);
  if (list.value && list.value.length === 0 && !err.value) return null;
  return (
    <section class="panel glass services" aria-label="Services">
      <h2>Services</h2>
      {err.value && <ErrorState message={err.value} />}
      <div class="service-grid">
        {(list.value || []).map((s) => (
          <ServiceCard key={s.id} s={s} t={t} reload={load} />
        ))}
      </div>
    </section>
  );
}

/** Jobs with their progress (newest first), polled while the page is open. */
function JobsPanel() {
  const jobs = useSignal<Job[] | null>(null);
  const err = useSignal<string | null>(null);
  useEffect(() => {
    let live = true;
    const load = () =>
      api
        .jobs(20)
        .then((j) => live && ((jobs.value = j), (err.value = null)))
        .catch((e) => live && (err.value = errText(e)));
    load();
    const t = setInterval(load, 2000);
    return () => ((live = false), clearInterval(t));
  }, []);
  const stop = (id: string) => api.stopJob(id).catch((e) => (err.value = errText(e)));
  return (
    <section class="panel glass jobs" aria-label="Jobs">
      <h2>Jobs</h2>
      {err.value && <ErrorState message={err.value} />}
      {jobs.value && jobs.value.length === 0 && <p class="muted">No job yet. POST /api/jobs starts one.</p>}
      {jobs.value && jobs.value.length > 0 && (
        <ul class="joblist">
          {jobs.value.map((j) => {
            const pct = j.progress === null ? null : Math.round(j.progress * 100);
            return (
              <li key={j.id} data-job={j.id} data-status={j.status}>
                <span class="job-name">{j.name}</span>
                <Badge status={j.status} small />
                <span class="bar" role="progressbar" aria-label={`${j.name} progress`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct ?? undefined}>
                  <span class="bar-fill" style={{ width: `${pct ?? 0}%` }} />
                </span>
                <span class="job-pct">{pct === null ? '–' : `${pct} %`}</span>
                <span class="job-msg muted">{[j.stage, j.message].filter(Boolean).join(': ')}</span>
                {j.status === 'running' && !j.stopping && (
                  <button class="btn btn-sm" onClick={() => void stop(j.id)}>
                    Stop
                  </button>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

/** The requirements checklist (admin tokens: the check runs --version). */
export function RequirementsPanel() {
  const data = useSignal<{ ok: boolean; items: Requirement[] } | null>(null);
  const err = useSignal<string | null>(null);
  const busy = useSignal(false);
  const load = (refresh = false) => {
    err.value = null;
    busy.value = true;
    api
      .requirements(refresh)
      .then((d) => (data.value = d))
      .catch((e) => (err.value = e instanceof ApiError && e.status === 403 ? 'Checking requirements needs an admin token.' : errText(e)))
      .finally(() => (busy.value = false));
  };
  useEffect(() => load(), []);
  return (
    <section class="panel glass requirements" aria-label="Requirements">
      <div class="page-head">
        <h2>Requirements</h2>
        <button class="btn btn-sm" onClick={() => load(true)} disabled={busy.value}>
          {busy.value ? 'Checking…' : 'Check again'}
        </button>
      </div>
      {err.value && <ErrorState message={err.value} />}
      {!err.value && !data.value && <Spinner label="Checking…" />}
      {data.value && (
        <ul class="checklist">
          {data.value.items.map((i) => (
            <li key={i.id} class={`req req-${i.status}`} data-req={i.id} data-status={i.status}>
              <span class="req-mark" aria-hidden="true">
                {i.status === 'ok' ? '✓' : i.status === 'missing' ? '✗' : '!'}
              </span>
              <span class="req-name">
                {i.name}
                {!i.required && <span class="muted"> (optional)</span>}
              </span>
              <span class="req-value">{i.value}</span>
              {i.fix && <span class="req-fix">{i.fix}</span>}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function HealthPage() {
  const h = useSignal<Health | null>(null);
  const err = useSignal<string | null>(null);
  const range = useSignal('15m');
  const hist = useSignal<HealthHistory | null>(null);
  useEffect(() => {
    let live = true;
    const poll = () =>
      api
        .health()
        .then((x) => live && ((h.value = x), (err.value = null)))
        .catch((e) => live && (err.value = errText(e)));
    poll();
    const t = setInterval(poll, 2000);
    return () => ((live = false), clearInterval(t));
  }, []);
  useEffect(() => {
    let live = true;
    const load = () =>
      api
        .healthHistory(range.value)
        .then((x) => live && (hist.value = x))
        .catch(() => live && (hist.value = null));
    load();
    const t = setInterval(load, 5000);
    return () => ((live = false), clearInterval(t));
  }, [range.value]);

  if (err.value && !h.value) return <ErrorState message={err.value} />;
  if (!h.value) return <Spinner label="Loading health…" />;
  const x = h.value;
  return (
    <div class="page health">
      <div class="page-head">
        <h1 class="page-title">Health</h1>
        <div class="ranges" role="group" aria-label="Range">
          {RANGES.map((r) => (
            <button key={r} class={`btn btn-sm${range.value === r ? ' btn-primary' : ''}`} aria-pressed={range.value === r} onClick={() => (range.value = r)}>
              {r}
            </button>
          ))}
        </div>
      </div>
      {!x.sampledAt ? (
        <Empty title="Not sampled">agentd samples the machine only with --health-interval-ms above 0.</Empty>
      ) : (
        <>
          <ScoreCard h={x} />
          {hist.value && (
            <p class="muted small" data-testid="history-step">
              {hist.value.t.length} points, one per {hist.value.stepSec} s{hist.value.stepSec > 1 ? ' (faint line: the highest in each step)' : ''}
            </p>
          )}
          <div class="hgrid">
            <CpuCard h={x} hist={hist.value} />
            <GpuCard h={x} hist={hist.value} />
          </div>
          <AgentsTable h={x} />
        </>
      )}
      <ServicesPanel t={x.thresholds || {}} />
      <JobsPanel />
      <RequirementsPanel />
    </div>
  );
}
