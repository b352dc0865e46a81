// The hyper-parameter config editor (issue #16), after the seed's Training
// Configuration: a form generated from the config's schema (a slider, log
// scaled where the schema says so, and a number box per numeric field,
// with its range shown), the schema's presets, Reset to defaults, and Save.
// Client-side hints come from hparams.ts as you type; the server's 422 is
// shown under the field it names. A command agent can be started with the
// config (its values in AGENTD_CONFIG, optionally as flags).
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, ApiError } from '../api';
import { checkAll, fieldOfError, fmtNum, fromSlider, parseInput, rangeHint, toSlider, type Field, type Schema, type Values } from '../hparams';
import { agentList, toast } from '../store';
import { Empty, ErrorState, errText, Spinner } from './common';

function FieldInput({ f, value, error, onChange }: { f: Field; value: unknown; error?: string; onChange: (v: unknown) => void }) {
  const id = `hp-${f.name}`;
  const numeric = f.type === 'float' || f.type === 'int';
  // read-only and disabled fields keep their default: shown, not editable
  const locked = f.readOnly || f.disabled;
  return (
    <div class={`hp-field${error ? ' invalid' : ''}${f.disabled ? ' hp-disabled' : ''}`} data-field={f.name} data-locked={locked ? 'yes' : undefined}>
      <label for={id}>
        {f.label || f.name}
        {f.readOnly && <span class="muted"> (read-only)</span>}
        {f.disabled && <span class="muted"> (disabled)</span>}
      </label>
      <fieldset class="hp-inputs" disabled={locked}>
        {numeric && (
          <input
            type="range"
            min="0"
            max="1000"
            step="1"
            aria-label={`${f.label || f.name} slider`}
            value={toSlider(f, value as number)}
            onInput={(e) => onChange(fromSlider(f, Number((e.target as HTMLInputElement).value)))}
          />
        )}
        {numeric && (
          <input
            id={id}
            type="text"
            inputMode="decimal"
            class="mono"
            value={typeof value === 'number' && Number.isFinite(value) ? fmtNum(value) : String(value ?? '')}
            onChange={(e) => onChange(parseInput(f, (e.target as HTMLInputElement).value))}
          />
        )}
        {f.type === 'bool' && <input id={id} type="checkbox" checked={value === true} onChange={(e) => onChange((e.target as HTMLInputElement).checked)} />}
        {f.type === 'enum' && (
          <select id={id} value={String(value)} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
            {(f.options || []).map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
        )}
        {f.type === 'string' && <input id={id} type="text" value={String(value ?? '')} onChange={(e) => onChange((e.target as HTMLInputElement).value)} />}
      </fieldset>
      <div class="hp-hint">{rangeHint(f)}</div>
      {error && (
        <div class="hp-error" role="alert">
          {error}
        </div>
      )}
    </div>
  );
}

function groups(fields: Field[]): [string, Field[]][] {
  const out: [string, Field[]][] = [];
  for (const f of fields) {
    const g = f.group || '';
    const hit = out.find(([k]) => k === g);
    if (hit) hit[1].push(f);
    else out.push([g, [f]]);
  }
  return out;
}

export function ConfigEditor() {
  const schemas = useSignal<Schema[] | null>(null);
  const configs = useSignal<any[]>([]);
  const err = useSignal<string | null>(null);
  const current = useSignal<any | null>(null);
  const draft = useSignal<Values>({});
  const serverErr = useSignal<{ field: string | null; message: string } | null>(null);
  const newName = useSignal('');
  const newSchema = useSignal('ppo');
  const busy = useSignal(false);
  const startAgent = useSignal('');
  const flags = useSignal(false);

  const load = async (select?: string) => {
    try {
      const [s, c] = await Promise.all([api.configSchemas(), api.configs()]);
      schemas.value = s;
      configs.value = c;
      const pick = c.find((x: any) => x.id === (select || current.value?.id)) || c[0] || null;
      show(pick);
    } catch (e) {
      err.value = errText(e);
    }
  };
  useEffect(() => {
    load();
  }, []);

  const show = (c: any | null) => {
    current.value = c;
    draft.value = c ? { ...c.values } : {};
    serverErr.value = null;
  };
  const schema = (): Schema | undefined => (schemas.value || []).find((s) => s.id === current.value?.schemaId);
  const fail = (e: unknown) => {
    serverErr.value = { field: e instanceof ApiError ? fieldOfError(e.details) : null, message: errText(e) };
  };
  const act = async (fn: () => Promise<any>) => {
    busy.value = true;
    try {
      const c = await fn();
      serverErr.value = null;
      configs.value = configs.value.map((x) => (x.id === c.id ? c : x));
      show(c);
    } catch (e) {
      fail(e);
    } finally {
      busy.value = false;
    }
  };
  const create = async (e: Event) => {
    e.preventDefault();
    busy.value = true;
    try {
      const c = await api.createConfig({ name: newName.value.trim(), schemaId: newSchema.value });
      newName.value = '';
      await load(c.id);
    } catch (x) {
      fail(x);
    } finally {
      busy.value = false;
    }
  };
  const start = async () => {
    try {
      await api.startWithConfig(startAgent.value, current.value.id, flags.value);
      toast('info', 'Started with config', current.value.name);
    } catch (e) {
      fail(e);
    }
  };

  const s = schema();
  const hints = s ? checkAll(s, draft.value) : {};
  const commandAgents = agentList.value.filter((a) => a.executor === 'command');
  return (
    <section class="panel glass hp-editor" data-testid="config-editor">
      <h2>Hyper-parameter configs</h2>
      {err.value && <ErrorState message={err.value} onRetry={() => load()} />}
      {!err.value && schemas.value === null && <Spinner />}
      <form class="hp-new" onSubmit={create}>
        <input
          aria-label="new config name"
          placeholder="New config name"
          value={newName.value}
          onInput={(e) => (newName.value = (e.target as HTMLInputElement).value)}
        />
        <select aria-label="schema" value={newSchema.value} onChange={(e) => (newSchema.value = (e.target as HTMLSelectElement).value)}>
          {(schemas.value || []).map((x) => (
            <option key={x.id} value={x.id}>
              {x.name}
            </option>
          ))}
        </select>
        <button type="submit" class="btn btn-sm btn-primary" disabled={busy.value || !newName.value.trim()}>
          Create
        </button>
      </form>
      {schemas.value !== null && configs.value.length === 0 && <Empty title="No configs yet">Create one from a schema (PPO is built in).</Empty>}
      {configs.value.length > 0 && (
        <label class="hp-pick">
          Config{' '}
          <select
            aria-label="config"
            value={current.value?.id || ''}
            onChange={(e) => show(configs.value.find((x) => x.id === (e.target as HTMLSelectElement).value) || null)}
          >
            {configs.value.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name} ({c.schemaId})
              </option>
            ))}
          </select>
        </label>
      )}
      {current.value && s && (
        <div class="hp-form">
          {s.presets && Object.keys(s.presets).length > 0 && (
            <div class="hp-presets">
              <span>Presets</span>
              {Object.keys(s.presets).map((p) => (
                <button key={p} type="button" class="btn btn-sm" disabled={busy.value} onClick={() => act(() => api.presetConfig(current.value.id, p))}>
                  {p}
                </button>
              ))}
            </div>
          )}
          {groups(s.fields).map(([g, fs]) => (
            <fieldset key={g}>
              {g && <legend>{g}</legend>}
              {fs.map((f) => (
                <FieldInput
                  key={f.name}
                  f={f}
                  value={draft.value[f.name]}
                  error={serverErr.value?.field === f.name ? serverErr.value.message : hints[f.name]}
                  onChange={(v) => {
                    draft.value = { ...draft.value, [f.name]: v };
                    if (serverErr.value?.field === f.name) serverErr.value = null;
                  }}
                />
              ))}
            </fieldset>
          ))}
          {serverErr.value && !serverErr.value.field && (
            <p class="error-text" role="alert">
              {serverErr.value.message}
            </p>
          )}
          <div class="hp-actions">
            <button
              type="button"
              class="btn btn-sm btn-primary"
              disabled={busy.value}
              onClick={() => act(() => api.patchConfig(current.value.id, { values: draft.value }))}
            >
              Save
            </button>
            <button type="button" class="btn btn-sm" disabled={busy.value} onClick={() => act(() => api.resetConfig(current.value.id))}>
              Reset to defaults
            </button>
          </div>
          {commandAgents.length > 0 && (
            <div class="hp-start">
              <select aria-label="agent to start" value={startAgent.value} onChange={(e) => (startAgent.value = (e.target as HTMLSelectElement).value)}>
                <option value="">Start a command agent with this config…</option>
                {commandAgents.map((a) => (
                  <option key={a.id} value={a.id}>
                    {a.name}
                  </option>
                ))}
              </select>
              <label>
                <input type="checkbox" checked={flags.value} onChange={() => (flags.value = !flags.value)} /> also as --flags
              </label>
              <button type="button" class="btn btn-sm btn-primary" disabled={!startAgent.value} onClick={start}>
                Start
              </button>
            </div>
          )}
        </div>
      )}
    </section>
  );
}
