// SPDX-License-Identifier: MIT
// RT1 and RT2, routines measured as they landed (issue #80; the engine is
// issue #75's, docs/routines.md):
// - RT1: a signed webhook delivery → the routine run's process exec'd. A
//   webhook routine whose agent is bench/bin/stamp --exit (it prints its
//   CLOCK_MONOTONIC time first thing after its exec, then exits), sandbox
//   on (the default); each delivery is one POST /api/hooks/:id signed as
//   GitHub signs (X-Hub-Signature-256), on a connection opened before the
//   clock starts, with no credential but the signature. Measured from the
//   request's first byte written to the stamp, and to the 202; the run is
//   followed to its end before the next delivery, so no fire waits on the
//   one before it (the routine's concurrent limit is 1).
// - RT2: the daemon's CPU (every thread's schedstat, the process tree)
//   over a fixed window, idle, with no routine and then with 10,000 (half
//   `every: 365d`, half a yearly cron in Europe/Paris, a tenth of them
//   paused): routines that are scheduled but not due cost one timer.
// Usage: node bench/routines.js [--quick] [--only RT1|RT2] [--json FILE]
//        [--fires N] [--routines N] [--window S] [--sandbox off]
// (AGENTD_BIN: default build/release/agentd). bench/driver.js runs it as
// the RT rows of `make bench`.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const agentd = require('./lib/agentd');
const { httpConn } = require('./lib/wire');

const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const ONLY = opt('--only', process.env.RT_ONLY || null);
const JSON_FILE = opt('--json', null);
const FIRES = Number(opt('--fires', QUICK ? 30 : 100));
const ROUTINES = Number(opt('--routines', 10000));
const WINDOW_S = Number(opt('--window', QUICK ? 30 : 120));
const SANDBOX = opt('--sandbox', null); // `off` to see what the sandbox costs RT1
const BIN_DIR = path.join(__dirname, 'bin');
const STAMP = path.join(BIN_DIR, 'stamp');

const log = (s) => process.stderr.write(`[routines] ${s}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function pctl(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : null;
}
const hr = () => process.hrtime.bigint();

function buildStamp() {
  const src = path.join(__dirname, 'c', 'stamp.c');
  if (!fs.existsSync(STAMP) || fs.statSync(src).mtimeMs > fs.statSync(STAMP).mtimeMs) {
    fs.mkdirSync(BIN_DIR, { recursive: true });
    execFileSync('cc', ['-std=gnu11', '-O2', '-Wall', '-Wextra', '-o', STAMP, src]);
  }
}

async function call(h, method, p, body, want) {
  const r = await agentd.request(h.port, method, p, body, { timeoutMs: 15000 });
  if (want != null && r.status !== want) throw new Error(`${method} ${p} answered ${r.status} ${r.body.slice(0, 160)}`);
  return r;
}

// Polls fn() every 10 ms until it answers something, at most ms.
async function until(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`no ${what} within ${ms} ms`);
    await sleep(10);
  }
}

// One delivery on a connection opened beforehand: [sent, answered, the run].
function deliver(port, id, secret, body) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.setNoDelay(true);
    let buf = '';
    let sent = null;
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('the hook did not answer in 10 s')); }, 10000);
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('connect', () => {
      const sig = `sha256=${crypto.createHmac('sha256', secret).update(body).digest('hex')}`;
      const req = `POST /api/hooks/${id} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n`
        + `X-GitHub-Event: push\r\nX-GitHub-Delivery: ${crypto.randomUUID()}\r\nX-Hub-Signature-256: ${sig}\r\n`
        + `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
      sent = hr();
      sock.write(req);
    });
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(buf.slice(0, end));
      const len = m ? Number(m[1]) : 0;
      if (Buffer.byteLength(buf.slice(end + 4)) < len) return;
      const answered = hr();
      clearTimeout(timer);
      sock.destroy();
      const status = Number(buf.slice(9, 12));
      let run = null;
      try { run = JSON.parse(buf.slice(end + 4)); } catch (_) { /* not JSON */ }
      if (status !== 202 || !run || !run.id) reject(new Error(`the hook answered ${status} ${buf.slice(end + 4, end + 200)}`));
      else resolve({ sent, answered, run });
    });
  });
}

async function runOf(h, routine, runId) {
  const r = await call(h, 'GET', `/api/routines/${routine}/runs`, null, 200);
  return (r.json.runs || []).find((x) => x.id === runId) || null;
}

async function stampOf(h, agentId) {
  const r = await call(h, 'GET', `/api/agents/${agentId}/messages?limit=20`, null);
  const m = (r.json?.messages || []).map((x) => /stamp (\d+)/.exec(x.content || '')).find(Boolean);
  return m ? BigInt(m[1]) : null;
}

async function rt1() {
  buildStamp();
  const h = await agentd.start({ args: ['--sandbox-paths', BIN_DIR, ...(SANDBOX ? ['--sandbox', SANDBOX] : [])] });
  try {
    const seed = await agentd.seedAgent(h, { executor: 'command', name: 'rt1-seed', extra: { command: [STAMP, '--exit'] } });
    const made = await call(h, 'POST', '/api/routines', {
      name: 'rt1', worktreeId: seed.worktreeId, agent: { executor: 'command', command: [STAMP, '--exit'] },
      trigger: { webhook: true }, limits: { runsPerDay: 100000 },
    }, 201);
    const { id, secret } = made.json;
    const exec = [], answer = [], statuses = {};
    const warm = 3;
    for (let i = 0; i < FIRES + warm; i++) {
      const body = JSON.stringify({ ref: 'refs/heads/main', after: crypto.randomBytes(20).toString('hex'), i });
      const d = await deliver(h.port, id, secret, body);
      const run = await until(async () => {
        const r = await runOf(h, id, d.run.id);
        return r && r.agentId ? r : null;
      }, 10000, `agent for run ${d.run.id}`);
      const st = await until(() => stampOf(h, run.agentId), 10000, `stamp from ${run.agentId}`);
      const end = await until(async () => {
        const r = await runOf(h, id, d.run.id);
        return r && !['queued', 'starting', 'running'].includes(r.status) ? r : null;
      }, 15000, `end of run ${d.run.id}`);
      statuses[end.status] = (statuses[end.status] || 0) + 1;
      if (i < warm) continue;
      exec.push(Number(st - d.sent) / 1e6);
      answer.push(Number(d.answered - d.sent) / 1e6);
    }
    const out = {
      fires: exec.length, statuses,
      execP50: pctl(exec, 0.5), execP99: pctl(exec, 0.99), execMax: Math.max(...exec),
      answerP50: pctl(answer, 0.5), answerP99: pctl(answer, 0.99),
    };
    log(`RT1 ${out.fires} deliveries (sandbox ${SANDBOX || "on"}): exec p50 ${out.execP50.toFixed(1)} p99 ${out.execP99.toFixed(1)} max ${out.execMax.toFixed(1)} ms; `
      + `the 202 p50 ${out.answerP50.toFixed(1)} p99 ${out.answerP99.toFixed(1)} ms; runs ${JSON.stringify(statuses)}`);
    return out;
  } finally { await h.stop(); }
}

// ns on a CPU of every thread of pid (its schedstat), 0 when gone.
function cpuNs(pid) {
  let ns = 0;
  let tasks = [];
  try { tasks = fs.readdirSync(`/proc/${pid}/task`); } catch (_) { return 0; }
  for (const t of tasks) {
    try { ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]); } catch (_) { /* gone */ }
  }
  return ns;
}

async function window(h, what) {
  const c0 = cpuNs(h.pid), t0 = hr();
  await sleep(WINDOW_S * 1000);
  const pct = ((cpuNs(h.pid) - c0) / Number(hr() - t0)) * 100;
  log(`RT2 ${what}: ${pct.toFixed(3)} % of a core over ${WINDOW_S} s`);
  return pct;
}

async function rt2() {
  const h = await agentd.start();
  try {
    const seed = await agentd.seedAgent(h, { executor: 'command', name: 'rt2-seed', extra: { command: ['true'] } });
    await sleep(5000); // the start's own work (the page check) done
    const idle = await window(h, 'no routine');
    const t0 = Date.now();
    const conns = await Promise.all([0, 1, 2, 3].map(() => httpConn({ port: h.port })));
    let next = 0;
    const made = new Set();
    await Promise.all(conns.map(async (c) => {
      for (let i = next++; i < ROUTINES; i = next++) {
        const trigger = i % 2 ? { every: '365d' } : { cron: '0 3 1 1 *', tz: 'Europe/Paris' };
        const r = await c.request('POST', '/api/routines', JSON.stringify({
          name: `rt2-${i}`, worktreeId: seed.worktreeId, agent: { executor: 'command', command: ['true'] }, trigger,
          ...(i % 10 === 9 ? { enabled: false } : {}),
        }));
        if (r.status !== 201) throw new Error(`POST /api/routines answered ${r.status} ${r.body.slice(0, 160)}`);
        made.add(JSON.parse(r.body).id);
      }
    }));
    for (const c of conns) c.close();
    const madeS = (Date.now() - t0) / 1000;
    const listed = made.size; // the ids the 201s gave (GET /api/routines lists 500 at most)
    if (listed !== ROUTINES) throw new Error(`${listed} routines made, not ${ROUTINES}`);
    log(`RT2 ${ROUTINES} routines made in ${madeS.toFixed(1)} s (${(ROUTINES / madeS).toFixed(0)}/s)`);
    await sleep(5000);
    const loaded = await window(h, `${ROUTINES} routines`);
    return { routines: ROUTINES, windowS: WINDOW_S, idlePct: idle, loadedPct: loaded, madeS, listed };
  } finally { await h.stop(); }
}

async function main() {
  const out = { meta: { quick: QUICK, fires: FIRES, routines: ROUTINES, windowS: WINDOW_S, bin: agentd.BIN } };
  if (!ONLY || ONLY === 'RT1') out.RT1 = await rt1();
  if (!ONLY || ONLY === 'RT2') out.RT2 = await rt2();
  if (JSON_FILE) fs.writeFileSync(JSON_FILE, JSON.stringify(out, null, 2) + '\n');
  else console.log(JSON.stringify(out, null, 2));
}

main().catch((e) => { console.error(e); process.exit(1); });
