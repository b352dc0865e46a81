// Hyper-parameter configs and the runs table (issue #16), the pure parts:
// the range hint and client-side check of a field (the same rules as the
// server's src/hparam: int values on min + k*step, floats' step only the
// slider's), log-scale slider positions, the runs-table query and header
// sorting. The server's 422 stays the authority; these only say it early.

export type FieldType = 'float' | 'int' | 'bool' | 'enum' | 'string';
export interface Field {
  name: string;
  label?: string;
  group?: string;
  description?: string;
  type: FieldType;
  min?: number;
  max?: number;
  step?: number;
  log?: boolean;
  options?: string[];
  maxLength?: number;
  default: unknown;
  // Shown, never changed: it keeps its default (the seed's form).
  readOnly?: boolean;
  disabled?: boolean;
}
export interface Schema {
  id: string;
  name: string;
  description?: string;
  builtIn?: boolean;
  fields: Field[];
  presets?: Record<string, Record<string, unknown>>;
}
export type Values = Record<string, unknown>;

/** A number as the form shows it: small and large floats in e-notation. */
export function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e6) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential().replace(/\.?0+e/, 'e');
  return String(Number(v.toPrecision(12)));
}

/** A number for a table cell (issue #32: "0.873423421234" is not read):
 * whole numbers grouped, others to 4 significant digits, tiny or huge ones
 * as 1.5e-7. The exact value stays in the cell's title. */
export function fmtCell(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return v.toLocaleString('en-US');
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e6) return v.toExponential(2).replace(/\.?0+e/, 'e');
  return String(Number(v.toPrecision(4)));
}

/** "16 – 512, steps of 16", "1e-6 – 0.01 (log)", "one of adam, sgd". */
export function rangeHint(f: Field): string {
  if (f.type === 'float' || f.type === 'int') {
    let s = `${fmtNum(f.min ?? 0)} – ${fmtNum(f.max ?? 0)}`;
    if (f.type === 'int' && f.step && f.step > 1) s += `, steps of ${fmtNum(f.step)}`;
    if (f.log) s += ' (log)';
    return s;
  }
  if (f.type === 'enum') return `one of ${(f.options || []).join(', ')}`;
  if (f.type === 'string') return `at most ${f.maxLength ?? 1000} bytes`;
  return 'true or false';
}

/** Why v is not a value of f (the server's words), or null. */
export function checkValue(f: Field, v: unknown): string | null {
  if (f.type === 'float' || f.type === 'int') {
    const min = f.min ?? -Infinity;
    const max = f.max ?? Infinity;
    const range = `must be from ${fmtNum(min)} to ${fmtNum(max)}`;
    if (typeof v !== 'number' || !Number.isFinite(v)) return `${range}`;
    if (f.type === 'int' && !Number.isInteger(v)) return `must be a whole number from ${fmtNum(min)} to ${fmtNum(max)}`;
    const stepped = f.type === 'int' && f.step && f.step > 1;
    const full = stepped ? `${range} in steps of ${fmtNum(f.step as number)}` : range;
    if (v < min || v > max) return full;
    if (stepped) {
      const k = (v - min) / (f.step as number);
      if (Math.abs(k - Math.round(k)) > 1e-9) return full;
    }
    return null;
  }
  if (f.type === 'bool') return typeof v === 'boolean' ? null : 'must be true or false';
  if (f.type === 'enum') return (f.options || []).includes(v as string) ? null : `must be one of ${(f.options || []).join(', ')}`;
  const ml = f.maxLength ?? 1000;
  return typeof v === 'string' && new TextEncoder().encode(v).length <= ml ? null : `must be a string of at most ${ml} bytes`;
}

/** What an input's text means for f: a number for float/int (NaN when it is none), else the text. */
export function parseInput(f: Field, text: string): unknown {
  if (f.type === 'float' || f.type === 'int') return text.trim() === '' ? NaN : Number(text);
  if (f.type === 'bool') return text === 'true';
  return text;
}

const SLIDER_STEPS = 1000;

/** A slider position 0..1000 for v (log-scaled when f.log). */
export function toSlider(f: Field, v: number): number {
  const min = f.min ?? 0;
  const max = f.max ?? 1;
  if (!Number.isFinite(v)) return 0;
  const x = Math.min(max, Math.max(min, v));
  const t = f.log && min > 0 ? Math.log(x / min) / Math.log(max / min) : (x - min) / (max - min);
  return Math.round(t * SLIDER_STEPS);
}

/** The value at slider position p, on the field's grid (int: its step; log: 3 significant digits). */
export function fromSlider(f: Field, p: number): number {
  const min = f.min ?? 0;
  const max = f.max ?? 1;
  const t = Math.min(1, Math.max(0, p / SLIDER_STEPS));
  let v = f.log && min > 0 ? min * Math.pow(max / min, t) : min + t * (max - min);
  if (f.type === 'int') {
    const step = f.step && f.step > 0 ? f.step : 1;
    v = min + Math.round((v - min) / step) * step;
    return Math.min(max, v);
  }
  if (f.log) return Number(v.toPrecision(3));
  if (f.step && f.step > 0) v = min + Math.round((v - min) / f.step) * f.step;
  return Math.min(max, Number(v.toPrecision(12)));
}

/** Every field's client-side error, by field name (empty when all are fine). */
export function checkAll(schema: Schema, values: Values): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of schema.fields) {
    const e = checkValue(f, values[f.name]);
    if (e) out[f.name] = e;
  }
  return out;
}

/** The server's 422 details.field "values.learningRate" as the field name, or null. */
export function fieldOfError(details: any): string | null {
  const f = details && typeof details.field === 'string' ? details.field : '';
  return f.startsWith('values.') ? f.slice(7) : null;
}

// ---- the runs table ---------------------------------------------------------------------

export interface TableQuery {
  scope?: { agentId?: string; workspaceId?: string };
  metrics: string; // "reward,loss:min"
  status: string; // "" or a status
  filter: string; // "learningRate>0.001,epochs<=10"
  sort: string;
  order: 'asc' | 'desc';
  limit: number;
  offset: number;
}

/** The query string of GET /api/training/runs. */
export function tableQuery(q: TableQuery): string {
  const p: [string, string][] = [];
  if (q.scope?.agentId) p.push(['agentId', q.scope.agentId]);
  if (q.scope?.workspaceId) p.push(['workspaceId', q.scope.workspaceId]);
  const metrics = q.metrics
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .join(',');
  if (metrics) p.push(['metrics', metrics]);
  if (q.status) p.push(['status', q.status]);
  const filter = q.filter
    .split(',')
    .map((s) => s.replace(/\s+/g, ''))
    .filter(Boolean)
    .join(',');
  if (filter) p.push(['filter', filter]);
  if (q.sort) p.push(['sort', q.sort]);
  p.push(['order', q.order]);
  p.push(['limit', String(q.limit)]);
  if (q.offset > 0) p.push(['offset', String(q.offset)]);
  return p.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
}

/** A click on the header of key: the same key flips the order, another starts descending. */
export function nextSort(cur: { sort: string; order: 'asc' | 'desc' }, key: string): { sort: string; order: 'asc' | 'desc' } {
  if (cur.sort === key) return { sort: key, order: cur.order === 'asc' ? 'desc' : 'asc' };
  return { sort: key, order: 'desc' };
}

/** The config fields of the rows, in first-seen order (the table's config columns). */
export function configColumns(rows: { config?: { values?: Values } | null }[]): string[] {
  const seen: string[] = [];
  for (const r of rows) for (const k of Object.keys(r.config?.values || {})) if (!seen.includes(k)) seen.push(k);
  return seen;
}

/** The names of "reward,loss:min" without their goal. */
export function metricNames(metrics: string): string[] {
  return metrics
    .split(',')
    .map((s) => s.trim().replace(/:(min|max)$/, ''))
    .filter(Boolean);
}
