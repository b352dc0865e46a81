import { describe, expect, it } from 'vitest';
import { defaultPanels, gridGroup, metricsByRecency, relativeGrid, sanitizeLayout } from '../src/panels';
import { applyRunEvent, defaultPicks, listQuery, emptyFilter, parseTags, type RunTableRow } from '../src/runlist';
import { valueAt } from '../src/ui/chartkit';
import { buildAxes, columns, etaSquared, importance, inBrushes, Raster, spearman } from '../src/parcoords';

describe('default panels', () => {
  it('shows the metrics the runs have, the most recently updated first', () => {
    const series = {
      a: [
        { name: 'alpha', lastTimeMs: 100 },
        { name: 'loss', lastTimeMs: 300 },
      ],
      b: [
        { name: 'reward', lastTimeMs: 500 },
        { name: 'alpha', lastTimeMs: 50 },
      ],
    };
    expect(metricsByRecency(series)).toEqual(['reward', 'loss', 'alpha']);
    const p = defaultPanels(series, 2);
    expect(p.map((x) => x.metrics)).toEqual([['reward'], ['loss']]);
    expect(p[0].runs).toBeNull();
  });
});

describe('sanitizeLayout', () => {
  it('keeps what a panel may hold and drops the rest', () => {
    const l = sanitizeLayout({
      panels: [
        { id: 'p1', metrics: ['reward', 'loss', 3], x: 'relative', smooth: 0.3, log: true, runs: ['run_abc', 'bad id'], extra: 1 },
        { id: 'p2', metrics: [] },
        { metrics: ['x'], x: 'sideways', smooth: 7 },
      ],
    });
    expect(l!.panels).toHaveLength(2);
    expect(l!.panels[0]).toMatchObject({ id: 'p1', metrics: ['reward', 'loss'], x: 'relative', smooth: 0.3, log: true, runs: ['run_abc'], group: true });
    expect(l!.panels[1]).toMatchObject({ metrics: ['x'], x: 'step', smooth: 0.6, runs: null });
    expect(sanitizeLayout(null)).toBeNull();
    expect(sanitizeLayout({ panels: 'no' })).toBeNull();
  });
});

describe('relative time', () => {
  const b = (x: number[], v: number[]) => ({ x, min: v, max: v, mean: v, last: v, count: v.map(() => 1) });
  it('puts runs started apart on one grid from their starts', () => {
    const g = relativeGrid(
      [
        { runId: 'a', points: 2, buckets: b([1000, 2000], [1, 3]) },
        { runId: 'b', points: 2, buckets: b([9000, 10000], [5, 7]) },
      ],
      { a: 1000, b: 9000 },
      2,
    );
    expect(g.x).toEqual([0, 500, 1000]);
    expect(g.runs[0].mean).toEqual([1, null, 3]);
    expect(g.runs[1].mean).toEqual([5, null, 7]);
    expect(gridGroup(g).mean).toEqual([3, null, 5]);
    expect(gridGroup(g).max).toEqual([5, null, 7]);
  });
});

describe('valueAt', () => {
  it("is the run's own value, else the last before the cursor while the line goes on", () => {
    const col = [1, null, 3, null];
    expect(valueAt(col, 0)).toBe(1);
    expect(valueAt(col, 1)).toBe(1);
    expect(valueAt(col, 3)).toBeNull(); // past the run's end
  });
});

describe('the live runs list', () => {
  const row = (id: string, status = 'running'): RunTableRow => ({
    id,
    agentId: 'ag',
    name: id,
    color: '#000000',
    tags: [],
    status,
    lastMetricAt: '2026-01-01T00:00:00.000Z',
  });
  const ev = (type: string, payload: any, ts = '2026-01-01T00:00:01.000Z') => ({ seq: 1, type, payload, ts });
  it('turns a finished run finished in place', () => {
    const rows = [row('run_a'), row('run_b')];
    const c = applyRunEvent(rows, ev('run_ended', { run: { id: 'run_a', status: 'succeeded', durationMs: 5 } }), () => false);
    expect(c.reload).toBe(false);
    expect(c.rows[0]).toMatchObject({ status: 'succeeded', durationMs: 5 });
    expect(c.rows[1]).toBe(rows[1]);
  });
  it('renames a run on run_update', () => {
    const c = applyRunEvent([row('run_a')], ev('run_update', { id: 'run_a', name: 'seed one', tags: ['x'] }), () => false);
    expect(c.rows[0]).toMatchObject({ name: 'seed one', tags: ['x'] });
  });
  it('reads the list again for a run it does not hold', () => {
    expect(applyRunEvent([row('run_a')], ev('run_started', { run: { id: 'run_n' } }), () => false).reload).toBe(true);
    expect(applyRunEvent([row('run_a')], ev('metrics_update', { runId: 'run_n' }), () => false).reload).toBe(true);
    expect(applyRunEvent([row('run_a')], ev('metrics_update', { runId: 'run_n' }), () => true).reload).toBe(false);
    expect(applyRunEvent([row('run_a')], ev('run_update', { id: 'run_n', name: 'x' }), () => false).reload).toBe(false);
  });
  it('asks for runs with metrics unless told, newest first', () => {
    const q = new URLSearchParams(listQuery({ ...emptyFilter(), tag: 'base', config: 'lr>0.1 ' }));
    expect(q.get('hasMetrics')).toBe('true');
    expect(q.get('tag')).toBe('base');
    expect(q.get('filter')).toBe('lr>0.1');
    expect(q.get('sort')).toBe('startedAt');
    expect(new URLSearchParams(listQuery({ ...emptyFilter(), all: true })).get('hasMetrics')).toBeNull();
  });
  it('picks the most recent runs with metrics; tags split on commas', () => {
    expect(defaultPicks([row('run_a'), { ...row('run_b'), lastMetricAt: null }, row('run_c')], 5)).toEqual(['run_a', 'run_c']);
    expect(parseTags(' a, b ,a,, c')).toEqual(['a', 'b', 'c']);
  });
});

describe('parallel coordinates', () => {
  const rows = [0.001, 0.002, 0.004, 0.008].map((lr, i) => ({
    id: `run_${i}`,
    config: { values: { learningRate: lr, gamma: 0.99, opt: i % 2 ? 'adam' : 'sgd' } },
    metrics: { reward: { final: 100 * lr, best: 1000 * lr }, loss: { final: 1 - lr, best: 1 - lr } },
  }));
  it('makes an axis of each config field that varies, then the metrics', () => {
    const axes = buildAxes(rows, ['reward', 'loss'], 'reward');
    expect(axes.map((a) => a.key)).toEqual(['config.learningRate', 'config.opt', 'reward.final', 'loss.final', 'reward.best']);
    expect(axes[1]).toMatchObject({ kind: 'cat', cats: ['adam', 'sgd'] });
    expect(axes[0].log).toBe(false); // 8x: linear
  });
  it('keeps the runs inside every brush', () => {
    const axes = buildAxes(rows, ['reward'], 'reward');
    const cols = columns(rows, axes);
    const keep = inBrushes(cols, axes, { 'config.learningRate': { lo: 0.4, hi: 1 } }, rows.length);
    expect([...keep]).toEqual([0, 0, 1, 1]);
    const both = inBrushes(cols, axes, { 'config.learningRate': { lo: 0.4, hi: 1 }, 'config.opt': { lo: 0.9, hi: 1 } }, rows.length);
    expect([...both]).toEqual([0, 0, 1, 0]);
  });
  it('ranks a parameter that decides the metric above one that does not', () => {
    const many = Array.from({ length: 60 }, (_, i) => ({
      id: `run_${i}`,
      config: { values: { lr: 1 + (i % 10), noise: (i * 7919) % 13 } },
      metrics: { reward: { final: -Math.pow((i % 10) - 4.5, 2) } },
    }));
    const axes = buildAxes(many, ['reward'], 'reward');
    const imp = importance(many, axes, 'reward');
    expect(imp[0].label).toBe('lr');
    expect(imp[0].importance!).toBeGreaterThan(0.9); // a rise and fall that correlation misses
    expect(Math.abs(imp[0].correlation!)).toBeLessThan(0.2);
    expect(imp[1].importance!).toBeLessThan(0.3);
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 40])).toBeCloseTo(1);
    expect(etaSquared([0, 0, 1, 1], [1, 1, 5, 5])).toBeCloseTo(1);
  });
});

describe('the parallel coordinates raster', () => {
  it('adds and takes away only the runs whose state changed, and ends where it began', () => {
    const rows = Array.from({ length: 50 }, (_, i) => ({ id: `run_${i}`, config: { values: { a: i, b: 50 - i } }, metrics: { r: { final: i % 7 } } }));
    const axes = buildAxes(rows, ['r'], 'r');
    const cols = columns(rows, axes);
    const r = new Raster(300, 120, axes, cols, rows.length, 2);
    const sums = () => {
      const x = r as any;
      return {
        cnt: (x.cnt as Uint16Array).reduce((s: number, v: number) => s + v, 0),
        rgb: (x.rgb as Float32Array).reduce((s: number, v: number) => s + v, 0),
      };
    };
    expect(sums().cnt).toBe(0);
    const all = inBrushes(cols, axes, {}, rows.length);
    expect(r.update(all)).toBe(50);
    const full = sums();
    expect(full.cnt).toBeGreaterThan(0);
    expect(r.update(inBrushes(cols, axes, { 'config.a': { lo: 0.5, hi: 1 } }, rows.length))).toBe(25);
    expect(sums().cnt).toBeLessThan(full.cnt);
    expect(r.update(all)).toBe(50);
    expect(sums()).toEqual(full);
    expect(r.update(new Uint8Array(50))).toBe(0);
    expect(sums().cnt).toBe(0);
    expect(Math.abs(sums().rgb)).toBeLessThan(1e-3);
  });
});

describe('importance of a metric that does not move', () => {
  it('is none, not rounding taken for signal', () => {
    expect(etaSquared([0, 1, 2], [0.1, 0.1, 0.1])).toBeNull();
    expect(spearman([1, 2, 3], [0.1, 0.1, 0.1])).toBeNull();
  });
});
