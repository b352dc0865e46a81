#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Parallel coordinates at 10,000 runs x 20 axes (issue #35): the frame time
// of the dashboard's own drawing code (web/src/parcoords.ts, bundled with
// the esbuild Vite brings) in Debian's Chromium, driven by playwright-core.
// A page with one 1200x360 canvas gets RUNS synthetic runs (16 config
// fields, 4 metrics' final values: 20 axes), rasterises every line once,
// then draws FRAMES frames while a brush is dragged down the first axis
// (each frame: the brush filter over every run, the runs whose state
// changed added or taken away, the image and the axes), one frame per
// requestAnimationFrame.
// Printed: the drawing time per frame measured in the page (median, p95,
// max), and the main thread's task time per frame from the Chrome DevTools
// Protocol (Performance.getMetrics TaskDuration and ScriptDuration, before
// and after, divided by the frames), which also counts the canvas
// rasterising the paths; then, in the same page, the obvious way (every
// line stroked as one Path2D per frame) for a ratio. A figure, not a test:
// nothing here asserts a time.
// Usage: node bench/parcoords.mjs [RUNS] [FRAMES]   (default 10000, 60)
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const requireWeb = createRequire(path.join(root, 'web/package.json'));
const { chromium } = requireWeb('playwright-core');
const esbuild = requireWeb('esbuild');

const RUNS = Number(process.argv[2] || 10000);
const FRAMES = Number(process.argv[3] || 60);
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

const lib = esbuild.buildSync({
  entryPoints: [path.join(root, 'web/src/parcoords.ts')],
  bundle: true,
  format: 'iife',
  globalName: 'PC',
  write: false,
  target: 'es2020',
}).outputFiles[0].text;

// Deterministic synthetic runs: 16 parameters (two categorical, one on a
// log scale), 4 metrics that depend on some of them plus noise.
function makeRuns(n) {
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const rows = [];
  for (let i = 0; i < n; i++) {
    const values = {};
    for (let p = 0; p < 14; p++) values[`p${p}`] = Math.round(rnd() * 1000) / 10;
    values.learningRate = Math.exp(Math.log(1e-6) + rnd() * Math.log(1e4));
    values.optimizer = ['adam', 'sgd', 'rmsprop'][i % 3];
    const r = values.p0 / 10 - Math.abs(values.p1 - 50) / 10 + rnd() * 2;
    rows.push({
      id: `run_${i}`,
      config: { values },
      metrics: {
        reward: { final: r, best: r + rnd() },
        loss: { final: 1 / (1 + r * r) + rnd() * 0.1 },
        fps: { final: 50 + rnd() * 20 },
        successRate: { final: rnd() },
      },
    });
  }
  return rows;
}

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'agentd-bench-pc-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  viewport: { width: 1280, height: 480 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-background-networking'],
});
try {
  const page = ctx.pages()[0] || (await ctx.newPage());
  await page.setContent('<canvas id="c" width="1200" height="360" style="width:1200px;height:360px"></canvas>');
  await page.addScriptTag({ content: lib });
  const axes = await page.evaluate((rows) => {
    window.rows = rows;
    window.axes = PC.buildAxes(rows, ['reward', 'loss', 'fps', 'successRate'], 'reward');
    window.cols = PC.columns(rows, window.axes);
    return window.axes.length;
  }, makeRuns(RUNS));
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Performance.enable');
  const metric = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  const before = await metric();
  const { out: times, first } = await page.evaluate(
    (frames) =>
      new Promise((done) => {
        const c = document.getElementById('c');
        const g = c.getContext('2d');
        const theme = { text: '#e4e8f6', muted: '#8d96b3', faint: 'rgba(141,150,179,0.1)', axis: 'rgba(148,163,255,0.28)', brush: 'rgba(124,140,255,0.35)' };
        const target = window.axes.findIndex((a) => a.key === 'reward.final');
        const t0 = performance.now();
        const raster = new PC.Raster(1200, 360, window.axes, window.cols, window.rows.length, target);
        const first = performance.now() - t0;
        const out = [];
        let f = 0;
        const step = () => {
          // a brush dragged down the first axis, from the top
          const lo = 1 - (0.9 * (f + 1)) / frames;
          const t0 = performance.now();
          PC.draw(g, raster, 1, window.axes, window.cols, window.rows.length, { [window.axes[0].key]: { lo, hi: 1 } }, theme);
          out.push(performance.now() - t0);
          if (++f < frames) requestAnimationFrame(step);
          else done({ out, first });
        };
        requestAnimationFrame(step);
      }),
    FRAMES,
  );
  const after = await metric();
  // the obvious way, for a ratio run beside it: every line stroked as a
  // Path2D each frame (a few frames: each takes long)
  const STROKES = 5;
  const strokes = await page.evaluate(
    (frames) =>
      new Promise((done) => {
        const g = document.getElementById('c').getContext('2d');
        const L = PC.layout(1200, 360, window.axes.length);
        const out = [];
        let f = 0;
        const step = () => {
          const t0 = performance.now();
          g.clearRect(0, 0, 1200, 360);
          const p = new Path2D();
          for (let i = 0; i < window.rows.length; i++) {
            let pen = false;
            for (let k = 0; k < window.axes.length; k++) {
              const v = window.cols[k][i];
              if (v !== v) {
                pen = false;
                continue;
              }
              const y = L.bottom - v * (L.bottom - L.top);
              if (pen) p.lineTo(L.xs[k], y);
              else p.moveTo(L.xs[k], y);
              pen = true;
            }
          }
          g.globalAlpha = 0.2;
          g.strokeStyle = '#4c6ef5';
          g.stroke(p);
          g.getImageData(0, 0, 1, 1); // the stroke rasterised before the clock stops
          out.push(performance.now() - t0);
          if (++f < frames) requestAnimationFrame(step);
          else done(out);
        };
        requestAnimationFrame(step);
      }),
    STROKES,
  );
  const sorted = times.slice().sort((a, b) => a - b);
  const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  const per = (k) => ((after[k] - before[k]) * 1000) / FRAMES;
  console.log(`parallel coordinates: ${RUNS} runs x ${axes} axes, ${FRAMES} frames of a brush drag (Chromium ${ctx.browser()?.version() ?? ''})`);
  console.log(`  first raster of every line (once per data, axes, target or size): ${first.toFixed(1)} ms`);
  console.log(`  draw per frame (in page): median ${q(0.5).toFixed(1)} ms, p95 ${q(0.95).toFixed(1)} ms, max ${sorted[sorted.length - 1].toFixed(1)} ms`);
  console.log(`  main-thread task time per frame (CDP TaskDuration): ${per('TaskDuration').toFixed(1)} ms; script ${per('ScriptDuration').toFixed(1)} ms`);
  const sm = strokes.slice().sort((a, b) => a - b)[Math.floor(strokes.length / 2)];
  console.log(`  every line stroked as a Path2D per frame (same page, ${STROKES} frames): median ${sm.toFixed(1)} ms; ratio ${(sm / q(0.5)).toFixed(1)}x`);
  console.log(`  machine load average: ${os.loadavg()[0].toFixed(1)} (2 cores shared: figures scale with it)`);
} finally {
  await ctx.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
