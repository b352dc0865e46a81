// uPlot glue shared by the training charts (issue #35): colours read from
// the theme (so the group's mean and the axes read on light and dark
// alike) and the hover box, which lists each run's value at the cursor by
// the run's name and colour. Names are the user's: they go in as text,
// never as HTML.
import type uPlot from 'uplot';
import { fmtCell } from '../hparams';

export function cssVar(name: string, fallback: string): string {
  if (typeof document === 'undefined') return fallback;
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

export type ChartTheme = { text: string; muted: string; grid: string; group: string; groupBand: string };

export function chartTheme(): ChartTheme {
  return {
    text: cssVar('--text', '#e4e8f6'),
    muted: cssVar('--muted', '#8d96b3'),
    grid: cssVar('--chart-grid', 'rgba(148, 163, 255, 0.12)'),
    group: cssVar('--group-line', '#ffffff'),
    groupBand: cssVar('--group-band', 'rgba(255, 255, 255, 0.08)'),
  };
}

export function axis(t: ChartTheme, extra: Partial<uPlot.Axis> = {}): uPlot.Axis {
  return { stroke: t.muted, grid: { stroke: t.grid, width: 1 }, ticks: { stroke: t.grid, width: 1 }, ...extra };
}

// The value a line passes through at idx: its own, else the last one
// before idx while the line goes on after it (columns are aligned on the
// union of every run's x, so a run has gaps where others have points).
export function valueAt(col: (number | null)[], idx: number): number | null {
  if (idx < 0 || idx >= col.length) return null;
  if (col[idx] !== null && col[idx] !== undefined) return col[idx];
  let after = false;
  for (let i = idx + 1; i < col.length; i++)
    if (col[i] !== null && col[i] !== undefined) {
      after = true;
      break;
    }
  if (!after) return null;
  for (let i = idx - 1; i >= 0; i--) if (col[i] !== null && col[i] !== undefined) return col[i];
  return null;
}

export type HoverRow = { runId: string; label: string; color: string; values: (number | null)[]; dash?: number[] };

// A plugin drawing the hover box inside the plot: the x under the cursor,
// then one row per line with its value there (rows without one are left
// out). rows() is read at each move, so it always sees the chart's data.
export function hoverPlugin(rows: () => HoverRow[], fmtX: (x: number) => string): uPlot.Plugin {
  let box: HTMLDivElement | null = null;
  return {
    hooks: {
      init: (u: uPlot) => {
        box = document.createElement('div');
        box.className = 'chart-hover';
        box.dataset.testid = 'chart-hover';
        box.style.display = 'none';
        u.over.appendChild(box);
      },
      setCursor: (u: uPlot) => {
        if (!box) return;
        const idx = u.cursor.idx;
        const left = u.cursor.left ?? -1;
        if (idx === null || idx === undefined || left < 0) {
          box.style.display = 'none';
          return;
        }
        box.replaceChildren();
        const head = document.createElement('div');
        head.className = 'chart-hover-x';
        head.textContent = fmtX(u.data[0][idx] as number);
        box.appendChild(head);
        let n = 0;
        for (const r of rows()) {
          const v = valueAt(r.values, idx);
          if (v === null) continue;
          const row = document.createElement('div');
          row.className = 'chart-hover-row';
          row.dataset.run = r.runId;
          const sw = document.createElement('span');
          sw.className = 'swatch';
          sw.style.background = r.color;
          const name = document.createElement('span');
          name.className = 'run-name';
          name.textContent = r.label;
          const val = document.createElement('span');
          val.className = 'mono';
          val.textContent = fmtCell(v);
          row.append(sw, name, val);
          box.appendChild(row);
          n++;
        }
        if (n === 0) {
          box.style.display = 'none';
          return;
        }
        box.style.display = '';
        const w = u.over.clientWidth;
        const right = left > w / 2;
        box.style.left = right ? '' : `${left + 14}px`;
        box.style.right = right ? `${w - left + 14}px` : '';
        box.style.top = `${Math.max(0, (u.cursor.top ?? 0) - 10)}px`;
      },
    },
  };
}
