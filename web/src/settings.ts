// The settings of the Store issue, their defaults and the same validation
// the server applies (type and range), so the form can refuse a bad value
// before a round trip. The server stays the authority: its 422 is shown too.

export type SettingValue = string | number | boolean;

export interface SettingSpec {
  key: string;
  label: string;
  type: 'enum' | 'boolean' | 'number' | 'text';
  pattern?: RegExp; // text: what the value must match ('' always passes)
  options?: string[];
  min?: number;
  max?: number;
  integer?: boolean;
  def: SettingValue;
  help: string;
}

export const SETTINGS: SettingSpec[] = [
  { key: 'theme', label: 'Theme', type: 'enum', options: ['system', 'dark', 'light'], def: 'system', help: 'Colours of the dashboard.' },
  { key: 'notifications', label: 'Desktop notifications', type: 'boolean', def: true, help: 'Notify when an agent needs you (an approval, a question).' },
  { key: 'default_mode', label: 'Default mode', type: 'enum', options: ['regular', 'plan', 'auto'], def: 'regular', help: 'Mode of new agents.' },
  { key: 'confirm_delete', label: 'Confirm deletes', type: 'boolean', def: true, help: 'Ask before deleting agents and worktrees.' },
  {
    key: 'auto_save',
    label: 'Auto-save drafts',
    type: 'boolean',
    def: true,
    help: 'Keep half-typed messages and the sidebar layout in this browser as you type, so a reload loses nothing. Off wipes them.',
  },
  {
    key: 'max_context_warning',
    label: 'Context warning (%)',
    type: 'number',
    min: 0,
    max: 100,
    integer: true,
    def: 80,
    help: 'Warn when an agent’s context is fuller than this.',
  },
  {
    key: 'daily_token_limit',
    label: 'Daily token limit',
    type: 'number',
    min: 0,
    max: 1e15,
    integer: true,
    def: 0,
    help: 'Tokens allowed per day (0: no limit).',
  },
  {
    key: 'monthly_token_limit',
    label: 'Monthly token limit',
    type: 'number',
    min: 0,
    max: 1e15,
    integer: true,
    def: 0,
    help: 'Tokens allowed per month (0: no limit).',
  },
  { key: 'daily_cost_limit', label: 'Daily cost limit (USD)', type: 'number', min: 0, max: 1e12, def: 0, help: 'USD allowed per day (0: no limit).' },
  { key: 'monthly_cost_limit', label: 'Monthly cost limit (USD)', type: 'number', min: 0, max: 1e12, def: 0, help: 'USD allowed per month (0: no limit).' },
  { key: 'health_gpu_util_pct', label: 'Health: GPU utilisation (%)', type: 'number', min: 1, max: 100, def: 85, help: 'Past this the health score drops.' },
  { key: 'health_gpu_temp_c', label: 'Health: GPU temperature (°C)', type: 'number', min: 1, max: 150, def: 80, help: 'Past this the health score drops.' },
  { key: 'health_gpu_power_w', label: 'Health: GPU power (W)', type: 'number', min: 1, max: 10000, def: 300, help: 'Past this the health score drops.' },
  { key: 'health_cpu_util_pct', label: 'Health: CPU utilisation (%)', type: 'number', min: 1, max: 100, def: 90, help: 'Past this the health score drops.' },
  { key: 'health_cpu_temp_c', label: 'Health: CPU temperature (°C)', type: 'number', min: 1, max: 150, def: 85, help: 'Past this the health score drops.' },
  { key: 'health_mem_used_pct', label: 'Health: memory used (%)', type: 'number', min: 1, max: 100, def: 90, help: 'Past this the health score drops.' },
  {
    key: 'health_disk_used_pct',
    label: 'Health: disk used (%)',
    type: 'number',
    min: 1,
    max: 100,
    def: 90,
    help: 'Past this the health score drops (the data dir’s disk).',
  },
  {
    key: 'health_service_fps_min',
    label: 'Health: service frame rate (FPS)',
    type: 'number',
    min: 0,
    max: 1000000,
    def: 400,
    help: 'A service reporting fewer frames a second lowers the score.',
  },
  {
    key: 'health_service_latency_ms',
    label: 'Health: service latency (ms)',
    type: 'number',
    min: 0.001,
    max: 1000000,
    def: 2,
    help: 'A service reporting a higher latency lowers the score.',
  },
  {
    key: 'summary_model',
    label: 'Agent summaries: model',
    type: 'text',
    pattern: /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$/,
    def: '',
    help: 'The model that writes each agent’s one-line summary after its turns, with each organisation’s own key (empty: off). Its tokens and cost count in usage and credits.',
  },
  {
    key: 'summary_provider',
    label: 'Agent summaries: provider',
    type: 'enum',
    options: ['anthropic', 'openai'],
    def: 'anthropic',
    help: 'Whose API the summary model is (the stored key of that provider is used).',
  },
];

export type Settings = Record<string, SettingValue>;

export function defaults(): Settings {
  const s: Settings = {};
  for (const spec of SETTINGS) s[spec.key] = spec.def;
  return s;
}

const camel = (k: string) => k.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

// Accepts {settings:{…}}, {key: value}, {key:{value,type}} or [{key,value}],
// with snake_case or camelCase keys, and returns snake_case keys.
export function normalizeSettings(data: any): Settings {
  const out = defaults();
  let src: any = data && typeof data === 'object' && data.settings ? data.settings : data;
  if (Array.isArray(src)) {
    const o: any = {};
    for (const row of src) if (row && typeof row.key === 'string') o[row.key] = row.value;
    src = o;
  }
  if (!src || typeof src !== 'object') return out;
  for (const spec of SETTINGS) {
    let v = src[spec.key] ?? src[camel(spec.key)];
    if (v && typeof v === 'object' && 'value' in v) v = v.value;
    if (v === undefined || v === null) continue;
    const parsed = coerce(spec, v);
    if (parsed.ok) out[spec.key] = parsed.value;
  }
  return out;
}

export function coerce(spec: SettingSpec, v: unknown): { ok: true; value: SettingValue } | { ok: false; error: string } {
  switch (spec.type) {
    case 'boolean':
      if (typeof v === 'boolean') return { ok: true, value: v };
      if (v === 'true' || v === 'false') return { ok: true, value: v === 'true' };
      return { ok: false, error: `${spec.label} must be true or false` };
    case 'enum':
      if (typeof v === 'string' && spec.options!.includes(v)) return { ok: true, value: v };
      return { ok: false, error: `${spec.label} must be one of ${spec.options!.join(', ')}` };
    case 'text': {
      if (typeof v !== 'string') return { ok: false, error: `${spec.label} must be text` };
      const t = v.trim();
      if (t !== '' && spec.pattern && !spec.pattern.test(t)) return { ok: false, error: `${spec.label}: letters, digits and . _ : / @ - only` };
      return { ok: true, value: t };
    }
    case 'number': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
      if (!Number.isFinite(n)) return { ok: false, error: `${spec.label} must be a number` };
      if (spec.integer && !Number.isInteger(n)) return { ok: false, error: `${spec.label} must be a whole number` };
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max))
        return { ok: false, error: `${spec.label} must be between ${spec.min} and ${spec.max}` };
      return { ok: true, value: n };
    }
  }
}

// Validates a form's raw values; returns the typed values to PATCH or the
// errors by key. Only changed keys are sent.
export function validate(current: Settings, raw: Record<string, unknown>): { values: Settings; errors: Record<string, string> } {
  const values: Settings = {};
  const errors: Record<string, string> = {};
  for (const spec of SETTINGS) {
    if (!(spec.key in raw)) continue;
    const r = coerce(spec, raw[spec.key]);
    if (!r.ok) errors[spec.key] = r.error;
    else if (r.value !== current[spec.key]) values[spec.key] = r.value;
  }
  return { values, errors };
}
