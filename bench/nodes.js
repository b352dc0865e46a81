// SPDX-License-Identifier: MIT
// Worker nodes (issue #34, docs/nodes.md): three rows, each agentd on a node
// against the same on the control plane itself, in the same run (a control
// plane and one node on this machine, as the e2e tests run them).
//   N1  POST start -> the agent's program running (it prints the wall clock
//       it started at, `date +%s%N`): p50/p99 over RUNS starts of an idle
//       node ÷ the same start here. Goal: p99 < 100 ms.
//   N2  a line the agent prints -> a /ws subscriber of the control plane:
//       linegen stamps each line with CLOCK_MONOTONIC when it meant to write
//       it, the subscriber (this process, same clock) subtracts on arrival;
//       p50/p99 on the node minus here. Goal: <= 5 ms added at p99.
//   N3  bytes resent after a cut: a counter agent on the node behind a proxy
//       that is cut for CUT_MS; the control plane counts DATA bytes it already
//       had (agentd_node_resent_bytes_total) and frames of an old attach
//       (agentd_node_stale_frames_total), beside the bytes the agent printed
//       during the cut. Goal: only the unacknowledged tail (here: none).
//   N4  a fleet on one plane (issue #80): FLEET_NODES nodes on this machine
//       (real node daemons) with FLEET_PER agents each (linegen printing
//       10 tagged, stamped lines a second, no sandbox), started one after
//       another through the plane's API while the earlier ones print: the
//       dispatch, POST start -> the program's first instruction, p50/p99
//       over every start; then, all running, the plane's CPU over a window
//       per 1,000 agents (the plane alone: the nodes, holders and agents
//       share the two cores), and a line -> an agent:* /ws subscriber of
//       the plane p99 meanwhile. QUICK: 10 x 20; else 10 x 100.
// Usage: node bench/nodes.js [--quick] [--only N1,N2,N3,N4] [--json FILE]   (AGENTD_BIN, default
// build/release/agentd). bench/driver.js runs it as the N rows of `make bench`
// and reads its figures back from --json.
'use strict';

const path = require('node:path');
const fs = require('node:fs');

const ROOT = path.resolve(__dirname, '..');
process.env.AGENTD_BIN = process.env.AGENTD_BIN || path.join(ROOT, 'build', 'release', 'agentd');
const E2E = path.join(ROOT, 'tests', 'e2e');
const daemon = require(path.join(E2E, 'lib', 'daemon'));
const { api, until, startApi, allMessages } = require(path.join(E2E, 'lib', 'api'));
const { nodeToken, startNode, proxy } = require(path.join(E2E, 'lib', 'nodes'));
const { stampSubscriber } = require(path.join(__dirname, 'lib', 'stamps'));
const sys = require(path.join(__dirname, 'lib', 'sys'));
const { subscribeMsg } = require(path.join(__dirname, 'lib', 'agentd-adapters'));

const QUICK = process.argv.includes('--quick');
const jsonArg = process.argv.indexOf('--json');
const JSON_FILE = jsonArg >= 0 ? process.argv[jsonArg + 1] : null;
const onlyArg = process.argv.indexOf('--only');
const ONLY = onlyArg >= 0 ? process.argv[onlyArg + 1].split(',') : null;
const want = (id) => !ONLY || ONLY.includes(id);
const RUNS = QUICK ? 20 : 60;
const LINES = QUICK ? 1000 : 3000;
const CUT_MS = 2000;
const FLEET_NODES = Number(process.env.FLEET_NODES || 10);
const FLEET_PER = Number(process.env.FLEET_PER || (QUICK ? 20 : 100));
const FANOUT_C = sys.benchBin('fanout', ['jansson']);
const FLEET_WINDOW_S = Number(process.env.N4_WINDOW_S || (QUICK ? 5 : 15)); // longer to profile it
const pct = (a, p) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowNs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));

async function agentOn(d, wt, node, command) {
  const body = { worktreeId: wt, executor: 'command', command };
  if (node) body.node = node;
  const r = await api(d, 'POST', '/api/agents', body);
  if (r.status !== 201) throw new Error(JSON.stringify(r.body));
  return r.body.id;
}

async function idle(d, id) {
  await until(async () => (await api(d, 'GET', `/api/agents/${id}`)).body.status !== 'running', 'the run to end', 60000);
}

// N1: POST start to the program's first instruction, RUNS times.
async function dispatch(d, wt, node) {
  const file = path.join(daemon.tmpDir('agentd-n1-'), 'stamps');
  const id = await agentOn(d, wt, node, ['sh', '-c', `date +%s%N >> ${file}`]);
  const out = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = nowNs();
    const s = await api(d, 'POST', `/api/agents/${id}/start`, {});
    if (s.status !== 200) throw new Error(JSON.stringify(s.body));
    await until(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8').trim().split('\n').length > i, 'the stamp');
    const stamp = BigInt(fs.readFileSync(file, 'utf8').trim().split('\n')[i]);
    out.push(Number(stamp - t0) / 1e6);
    await idle(d, id);
  }
  return out;
}

// N2: stamped lines to a /ws subscriber.
async function lineLatency(d, wt, node) {
  const id = await agentOn(d, wt, node, [sys.benchBin('linegen'), '1000', String(LINES), '500']);
  const sub = await stampSubscriber(d, id);
  await sleep(200);
  const s = await api(d, 'POST', `/api/agents/${id}/start`, {});
  if (s.status !== 200) throw new Error(JSON.stringify(s.body));
  await until(() => sub.got.size >= LINES * 0.98, `${LINES} lines (${sub.got.size})`, 120000);
  sub.close();
  await idle(d, id);
  const lat = [...sub.got.values()];
  return lat.slice(Math.floor(lat.length / 10)); // the first tenth warms up
}

async function metric(d, name) {
  const t = await (await fetch(d.url + '/metrics', { headers: d.authHeaders })).text();
  const m = t.match(new RegExp(`^${name} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : NaN;
}

// N3: a cut of CUT_MS under a counter agent.
async function cut(d, wt, p) {
  const id = await agentOn(d, wt, 'benchcut', ['sh', '-c', 'i=0; while [ $i -lt 1000000 ]; do echo "n=$i"; i=$((i+1)); sleep 0.005; done']);
  await api(d, 'POST', `/api/agents/${id}/start`, {});
  const lines = async () => (await allMessages(d, id)).filter((m) => m.role === 'assistant').map((m) => m.content).join('\n').split('\n').filter((l) => l.startsWith('n='));
  await until(async () => (await lines()).length > 100, 'counting');
  const r0 = await metric(d, 'agentd_node_resent_bytes_total');
  const s0 = await metric(d, 'agentd_node_stale_frames_total');
  const before = (await lines()).length;
  p.set('cut');
  await sleep(CUT_MS);
  p.set('pass');
  await until(async () => (await lines()).length > before + CUT_MS / 5 + 100, 'caught up', 60000);
  const all = await lines();
  const printedDuringCut = all.slice(before, before + Math.round(CUT_MS / 5)).join('\n').length;
  const resent = (await metric(d, 'agentd_node_resent_bytes_total')) - r0;
  const stale = (await metric(d, 'agentd_node_stale_frames_total')) - s0;
  const once = all.every((l, i) => l === `n=${i}`);
  await api(d, 'POST', `/api/agents/${id}/stop?wait=true`);
  return { resent, stale, printedDuringCut, once };
}

// The machine's CPU counters (/proc/stat's first line): {idle, total} ticks.
function machineTicks() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { idle: f[3] + f[4], total: f.reduce((a, b) => a + b, 0) };
}

// N4: FLEET_NODES nodes x FLEET_PER agents on plane d; onNodes false: as
// many agents on the plane itself (the row's peer). Beside the plane's CPU,
// the node daemons' own (their holders and agents not counted) and how
// many of the machine's cores were busy in all: what bounds the row when
// the machine is full.
async function fleet(d, wt, onNodes) {
  const nodes = [];
  const dir = daemon.tmpDir('agentd-n4-');
  const stampsOf = [];
  try {
    for (let i = 0; onNodes && i < FLEET_NODES; i++) {
      const name = `fleet${i}`;
      const t = await nodeToken(d, name);
      nodes.push(await startNode(d.url, { token: t.token, name, globalArgs: ['--log-level', 'warn', '--sandbox', 'off'] }));
    }
    const n = FLEET_NODES * FLEET_PER;
    const ids = [];
    for (let i = 0; i < n; i++) {
      const stamp = path.join(dir, String(i));
      // the stamp first, then linegen in its place: 10 lines a second for
      // longer than the run, tagged with the agent's number
      const cmd = ['sh', '-c', `date +%s%N > ${stamp}; exec "$0" 10 100000 0 plain ${i}`, sys.benchBin('linegen')];
      ids.push(await agentOn(d, wt, onNodes ? `fleet${i % FLEET_NODES}` : null, cmd));
      stampsOf.push(stamp);
    }
    const dispatchMs = [];
    // the node daemons' CPU while they start their agents (each node's
    // health sampler looks for the new trees then)
    const startPids = nodes.map((nd) => nd.proc.pid);
    const sc0 = sys.cpuOfPids(startPids), st0 = performance.now();
    for (let i = 0; i < n; i++) {
      const t0 = nowNs();
      const s = await api(d, 'POST', `/api/agents/${ids[i]}/start`, {});
      if (s.status !== 200) throw new Error(`start ${i}: ${JSON.stringify(s.body)}`);
      await until(() => fs.existsSync(stampsOf[i]) && fs.readFileSync(stampsOf[i], 'utf8').trim() !== '', `agent ${i}'s stamp`, 60000);
      dispatchMs.push(Number(BigInt(fs.readFileSync(stampsOf[i], 'utf8').trim()) - t0) / 1e6);
    }
    const startSeconds = (performance.now() - st0) / 1000;
    const nodesStartCpu = (sys.cpuOfPids(startPids) - sc0) / startSeconds;
    await sleep(1000); // the last ones' first lines
    const nodePids = nodes.map((nd) => nd.proc.pid);
    if (process.env.N4_SAY_PID) console.error(`N4 window: the plane is pid ${d.proc.pid}, the nodes ${nodePids.join(' ')}`);
    // One reader of every agent's output for the window: the C reader of
    // F1 and W4 (c/fanout.c, uncompressed), not one in this process. A
    // reader here (Node) ran a major GC about every 2 s whose helper
    // threads took both cores for ~100 ms (perf sched): the row measured
    // the bench's process beside the daemons (bench/README.md, N4).
    let c0 = 0, nc0 = 0, m0 = null, t0 = 0, cpu = 0, nodesCpu = 0, m1 = null, seconds = 0;
    process.env.AGENTD_BENCH_TOKEN = d.authHeaders.authorization.replace(/^Bearer /, ''); // the reader's
    const r = await sys.runGen(FANOUT_C, {
      port: Number(new URL(d.url).port), path: '/ws', subscribe: subscribeMsg('agent:*'),
      n: 1, sampleEvery: 1, lines: 1000000, seconds: FLEET_WINDOW_S, timeoutMs: FLEET_WINDOW_S * 1000 + 10000,
    }, {
      timeoutMs: FLEET_WINDOW_S * 1000 + 60000,
      onMark: (m) => {
        if (m === 'start') {
          c0 = sys.cpuSeconds(d.proc.pid); nc0 = sys.cpuOfPids(nodePids); m0 = machineTicks(); t0 = performance.now();
        } else {
          seconds = (performance.now() - t0) / 1000;
          cpu = sys.cpuSeconds(d.proc.pid) - c0; nodesCpu = sys.cpuOfPids(nodePids) - nc0; m1 = machineTicks();
        }
      },
    });
    const busyCores = (1 - (m1.idle - m0.idle) / (m1.total - m0.total)) * require('node:os').cpus().length;
    const linesPerS = r.samples / seconds;
    // the agents stop before the next part (the plane's own are its runs)
    if (!onNodes) for (const id of ids) await api(d, 'POST', `/api/agents/${id}/stop`);
    return {
      nodes: onNodes ? FLEET_NODES : 0, agents: n,
      dispatch: { p50: pct(dispatchMs, 50), p99: pct(dispatchMs, 99), n: dispatchMs.length, nodesCpuShare: nodesStartCpu, seconds: startSeconds },
      planeCpuShare: cpu / seconds, planeCpuPer1000: (cpu / seconds) * (1000 / n),
      nodesCpuPer1000: (nodesCpu / seconds) * (1000 / n), busyCores,
      linesPerS, wantLinesPerS: n * 10, line: { p50: r.p50Ms, p99: r.p99Ms, n: r.samples },
    };
  } finally {
    for (const nd of nodes) await nd.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  // the agents write their stamps to /tmp: no sandbox on the control plane
  // or on the nodes, so both sides start the same way
  const d = await startApi({ args: ['--node-lease-ms', '1500', '--log-level', 'warn', '--sandbox', 'off'] });
  const repo = daemon.tmpRepo('agentd-bench-');
  const ws = await api(d, 'POST', '/api/workspaces', { path: repo, name: 'w' });
  if (ws.status !== 201) throw new Error(`workspace: ${ws.status} ${JSON.stringify(ws.body)}`);
  const wt = ws.body.worktrees[0].id;
  const t1 = await nodeToken(d, 'bench1');
  const n1 = await startNode(d.url, { token: t1.token, name: 'bench1', globalArgs: ['--log-level', 'warn', '--sandbox', 'off'] });
  const p = await proxy(d.url);
  const t2 = await nodeToken(d, 'benchcut');
  const n2 = await startNode(p.url, { token: t2.token, name: 'benchcut', globalArgs: ['--log-level', 'warn', '--sandbox', 'off'] });
  const rows = [];
  const fig = { meta: { runs: RUNS, lines: LINES, cutMs: CUT_MS } };
  const p50p99 = (a) => ({ p50: pct(a, 50), p99: pct(a, 99), n: a.length });
  try {
    if (want('N1')) {
      const here = await dispatch(d, wt, null);
      const there = await dispatch(d, wt, 'bench1');
      const s1 = fig.N1 = { node: p50p99(there), here: p50p99(here) };
      rows.push(['N1', 'POST start -> exec, p50 / p99 (ms)', `${s1.node.p50.toFixed(1)} / ${s1.node.p99.toFixed(1)}`,
        `${s1.here.p50.toFixed(1)} / ${s1.here.p99.toFixed(1)} (here)`, s1.node.p99 < 100 ? 'p99 < 100 ms ok' : 'p99 < 100 ms MISS']);
    }
    if (want('N2')) {
      const lh = await lineLatency(d, wt, null);
      const ln = await lineLatency(d, wt, 'bench1');
      const s2 = fig.N2 = { node: p50p99(ln), here: p50p99(lh), addedP99: pct(ln, 99) - pct(lh, 99) };
      rows.push(['N2', `line -> /ws subscriber, 1k lines/s, p50 / p99 (ms)`, `${s2.node.p50.toFixed(2)} / ${s2.node.p99.toFixed(2)}`,
        `${s2.here.p50.toFixed(2)} / ${s2.here.p99.toFixed(2)} (here)`, `added p99 ${s2.addedP99.toFixed(2)} ms: ${s2.addedP99 <= 5 ? 'ok' : 'MISS'}`]);
    }
    if (want('N3')) {
      const c = await cut(d, wt, p);
      fig.N3 = c;
      rows.push(['N3', `bytes resent after a ${CUT_MS} ms cut; frames of an old attach dropped`, `${c.resent} B; ${c.stale}`,
        `${c.printedDuringCut} B printed during the cut`, `${c.once && c.resent === 0 ? 'only the unacknowledged tail ok' : 'MISS'} (every value once: ${c.once})`]);
    }
    if (want('N4')) {
      // a plane of its own with the default lease (the one above renews
      // every 500 ms for N3's cut): each renewal reads every run's HEAD
      const d4 = await startApi({ args: ['--log-level', 'warn', '--sandbox', 'off'] });
      let f, h;
      try {
        const ws4 = await api(d4, 'POST', '/api/workspaces', { path: repo, name: 'w4' });
        if (ws4.status !== 201) throw new Error(`workspace: ${ws4.status} ${JSON.stringify(ws4.body)}`);
        f = await fleet(d4, ws4.body.worktrees[0].id, true);
        h = await fleet(d4, ws4.body.worktrees[0].id, false);
      } finally { await d4.cleanup(); }
      fig.N4 = { node: f, here: h };
      const fmt = (x) => `${x.dispatch.p50.toFixed(1)} / ${x.dispatch.p99.toFixed(1)}; ${(x.planeCpuPer1000 * 100).toFixed(1)} % of a core${x.nodes ? ` (the node daemons ${(x.nodesCpuPer1000 * 100).toFixed(1)} %; while starting ${(x.dispatch.nodesCpuShare * 100).toFixed(1)} % of a core over ${x.dispatch.seconds.toFixed(0)} s)` : ''}; ${x.line.p99.toFixed(2)} ms (${Math.round(x.linesPerS)} of ${x.wantLinesPerS} lines/s read); ${x.busyCores.toFixed(2)} cores busy`;
      rows.push(['N4', `${f.nodes} nodes x ${f.agents / f.nodes} agents at 10 lines/s: dispatch p50 / p99 (ms); the plane's CPU per 1,000 agents (and the node daemons'); line -> agent:* reader p99; the machine's cores busy in all`,
        fmt(f), `${fmt(h)} (the same agents here)`, f.dispatch.p99 < 100 ? 'dispatch p99 < 100 ms ok' : 'dispatch p99 < 100 ms MISS']);
    }
  } finally {
    await n1.cleanup(); await n2.cleanup(); await p.close(); await d.cleanup();
    fs.rmSync(repo, { recursive: true, force: true });
  }
  console.log('| id | scenario | on a node | peer | goal |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  if (JSON_FILE) fs.writeFileSync(JSON_FILE, JSON.stringify(fig, null, 2) + '\n');
}

// A signal exits through 'exit', where tests/e2e/lib stops the daemons.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => process.exit(130));
main().catch((e) => { console.error(e); process.exit(1); });
