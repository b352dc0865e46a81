// Services on the Health page (issue #17; made and managed here since issue
// #32): long-running helpers agentd keeps up. Each card: status, uptime,
// restarts, health and figures, its command, its log, the config form with
// Apply & Restart, Test connection, Stop/Start, Restart and Delete; a form
// adds one (an admin token: a service runs a program), here or on a worker
// node (its badge names the node, marked while the node is away).
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, type ConfigField, type Service, type ServiceTemplate } from '../api';
import { ask } from '../confirm';
import { fmtUptime } from '../healthfmt';
import { settings, toast } from '../store';
import { splitArgs } from '../tasks';
import { Badge, ErrorState, errText, FormFooter, NodeField } from './common';
import { Metric } from './HealthCards';
import { useServiceLog, useServices } from './useHealth';

const SERVICE_BADGE: Record<string, string> = {
  starting: 'waiting',
  running: 'running',
  backoff: 'waiting',
  stopping: 'waiting',
  waiting: 'waiting',
  unreachable: 'waiting',
  failed: 'error',
  stopped: 'finished',
};

function FieldInput({ name, idBase, f, value, onChange }: { name: string; idBase: string; f: ConfigField; value: unknown; onChange: (v: unknown) => void }) {
  const id = `cfg-${idBase}-${name}`;
  const label = f.label || name;
  if (f.type === 'boolean') {
    return (
      <label class="check small" for={id}>
        <input id={id} type="checkbox" checked={!!value} disabled={f.readOnly || f.disabled} onChange={(e) => onChange(e.currentTarget.checked)} /> {label}
      </label>
    );
  }
  const num = f.type === 'integer' || f.type === 'number';
  return (
    <label class="cfg-field" for={id}>
      <span>{label}</span>
      {f.enum ? (
        <select
          id={id}
          value={String(value ?? '')}
          disabled={f.disabled || f.readOnly}
          onChange={(e) => onChange(num ? Number(e.currentTarget.value) : e.currentTarget.value)}
        >
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
          readOnly={f.readOnly}
          disabled={f.disabled}
          value={value === undefined || value === null ? '' : String(value)}
          onInput={(e) => onChange(e.currentTarget.value === '' ? undefined : Number(e.currentTarget.value))}
        />
      ) : (
        <input
          id={id}
          type="text"
          maxLength={f.maxLength}
          readOnly={f.readOnly}
          disabled={f.disabled}
          class={f.readOnly ? 'mono' : undefined}
          value={value === undefined || value === null ? '' : String(value)}
          onInput={(e) => onChange(e.currentTarget.value)}
        />
      )}
    </label>
  );
}

/** The service's last lines, polled while open. */
function ServiceLog({ id, name }: { id: string; name: string }) {
  const { data, err } = useServiceLog(id);
  const text = (data.value?.runtime.output || '').trimEnd();
  return (
    <div class="service-log">
      {err.value && <p class="field-error">{err.value}</p>}
      <pre class="job-output" aria-label={`Log of ${name}`} data-testid={`svc-${id}-log`}>
        {data.value === null ? 'Loading…' : text || 'Nothing printed yet.'}
      </pre>
    </div>
  );
}

export function ServiceCard({ s, t, reload }: { s: Service; t: Record<string, number>; reload: () => void }) {
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
  const logOpen = useSignal(false);
  const act = async (f: () => Promise<unknown>, doing: string) => {
    busy.value = true;
    msg.value = doing;
    try {
      await f();
      msg.value = null;
      reload();
    } catch (e) {
      msg.value = errText(e);
    } finally {
      busy.value = false;
    }
  };
  const remove = async () => {
    if (
      settings.value.confirm_delete !== false &&
      !(await ask({ title: 'Delete the service', body: `Delete ${s.name}? It is stopped and its config goes.`, yes: 'Delete', danger: true }))
    )
      return;
    await act(() => api.deleteService(s.id), 'Deleting…');
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
        {rt.node && (
          <span
            class="node-badge"
            data-node={rt.node.name || rt.node.id}
            data-reachable={rt.node.reachable ? 'true' : 'false'}
            title={`Runs on worker node ${rt.node.name || rt.node.id}${rt.node.reachable ? '' : ` (${rt.node.state || 'away'})`}`}
          >
            {rt.node.name || rt.node.id}
            {!rt.node.reachable && ` · ${rt.node.state || 'away'}`}
          </span>
        )}
        <span class="muted small service-facts">
          {rt.status}
          {rt.startedAt ? `, up ${fmtUptime(rt.startedAt)}` : ''}, {rt.restarts || 0} restart{rt.restarts === 1 ? '' : 's'}
          {rt.lastExit && rt.status !== 'running' ? `, last exit ${rt.lastExit.signal ? `signal ${rt.lastExit.signal}` : `code ${rt.lastExit.code}`}` : ''}
        </span>
      </div>
      <p class="muted small mono service-cmd">{s.command.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}</p>
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
      <div class="form-actions service-actions">
        <button type="button" class="btn btn-sm" aria-expanded={logOpen.value} onClick={() => (logOpen.value = !logOpen.value)}>
          {logOpen.value ? 'Hide log' : 'Log'}
        </button>
        {s.enabled ? (
          <button
            type="button"
            class="btn btn-sm"
            disabled={busy.value}
            onClick={() => void act(() => api.patchService(s.id, { enabled: false }), 'Stopping…')}
          >
            Stop
          </button>
        ) : (
          <button type="button" class="btn btn-sm" disabled={busy.value} onClick={() => void act(() => api.patchService(s.id, { enabled: true }), 'Starting…')}>
            Start
          </button>
        )}
        {s.enabled && (
          <button type="button" class="btn btn-sm" disabled={busy.value} onClick={() => void act(() => api.restartService(s.id), 'Restarting…')}>
            Restart
          </button>
        )}
        <button type="button" class="btn btn-sm btn-danger" disabled={busy.value} onClick={() => void remove()}>
          Delete
        </button>
      </div>
      {logOpen.value && <ServiceLog id={s.id} name={s.name} />}
      {msg.value && (
        <p class="service-msg" role="status">
          {msg.value}
        </p>
      )}
    </div>
  );
}

function NewService({ onClose, onAdded }: { onClose: () => void; onAdded: () => void }) {
  const name = useSignal('');
  // A built-in template (the Synthetic Eye) brings its config schema.
  const templates = useSignal<ServiceTemplate[]>([]);
  const template = useSignal('');
  useEffect(() => {
    api
      .serviceTemplates()
      .then((t) => (templates.value = t))
      .catch(() => (templates.value = []));
  }, []);
  const command = useSignal('');
  const cwd = useSignal('');
  const node = useSignal('');
  const restart = useSignal<'always' | 'on-failure' | 'never'>('on-failure');
  const busy = useSignal(false);
  const err = useSignal<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const argv = splitArgs(command.value.trim());
    if ((!name.value.trim() && !template.value) || !argv.length) {
      err.value = 'A service needs a name and a command.';
      return;
    }
    busy.value = true;
    err.value = null;
    try {
      await api.createService({
        ...(name.value.trim() ? { name: name.value.trim() } : {}),
        ...(template.value ? { template: template.value } : {}),
        command: argv,
        restart: restart.value,
        ...(cwd.value.trim() ? { cwd: cwd.value.trim() } : {}),
        ...(node.value ? { node: node.value } : {}),
      });
      toast('success', `Service ${name.value.trim() || template.value} added`);
      onAdded();
      onClose();
    } catch (x) {
      err.value = errText(x);
    } finally {
      busy.value = false;
    }
  };
  return (
    <form class="panel form row-form new-service" aria-label="Add a service" onSubmit={submit} noValidate>
      <label class="field">
        <span>Template</span>
        <select
          name="svc-template"
          value={template.value}
          onChange={(e) => {
            template.value = e.currentTarget.value;
            const t = templates.value.find((x) => x.id === template.value);
            if (t && !name.value.trim()) name.value = t.name;
          }}
        >
          <option value="">none: a program without a config</option>
          {templates.value.map((t) => (
            <option key={t.id} value={t.id}>
              {t.name}
            </option>
          ))}
        </select>
      </label>
      <label class="field">
        <span>Name</span>
        <input name="svc-name" value={name.value} maxLength={127} onInput={(e) => (name.value = e.currentTarget.value)} />
      </label>
      <label class="field">
        <span>Command</span>
        <input name="svc-command" class="mono" placeholder="./eye --port 9000" value={command.value} onInput={(e) => (command.value = e.currentTarget.value)} />
      </label>
      <label class="field">
        <span>Folder (optional)</span>
        <input name="svc-cwd" class="mono" value={cwd.value} onInput={(e) => (cwd.value = e.currentTarget.value)} />
      </label>
      <NodeField value={node.value} onChange={(v) => (node.value = v)} any={false} />
      <label class="field">
        <span>Restart</span>
        <select name="svc-restart" value={restart.value} onChange={(e) => (restart.value = e.currentTarget.value as typeof restart.value)}>
          <option value="on-failure">when it fails</option>
          <option value="always">always</option>
          <option value="never">never</option>
        </select>
      </label>
      <FormFooter err={err.value} busy={busy.value} label="Add service" busyLabel="Adding…" onCancel={onClose} />
    </form>
  );
}

/** Services: long-running helpers, their health, figures, log and config. */
export function ServicesPanel({ t }: { t: Record<string, number> }) {
  const { data: list, err, reload } = useServices();
  const adding = useSignal(false);
  return (
    <section class="panel glass services" aria-label="Services">
      <div class="page-head">
        <h2>Services</h2>
        {!adding.value && (
          <button class="btn btn-sm btn-primary" onClick={() => (adding.value = true)}>
            + Add a service
          </button>
        )}
      </div>
      {adding.value && <NewService onClose={() => (adding.value = false)} onAdded={reload} />}
      {err.value && <ErrorState message={err.value} />}
      {list.value && list.value.length === 0 && !adding.value && <p class="muted">No service: add a program agentd should keep running.</p>}
      <div class="service-grid">
        {(list.value || []).map((s) => (
          <ServiceCard key={s.id} s={s} t={t} reload={reload} />
        ))}
      </div>
    </section>
  );
}
