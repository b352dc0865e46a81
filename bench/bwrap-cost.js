// SPDX-License-Identifier: MIT
// What a sandboxed start costs in bubblewrap, piece by piece (ST1, issue
// #80): the machine's busy CPU a start (from /proc/stat, so the kernel's
// deferred work, such as a network namespace's teardown, counts) and its
// wall time, for `true` alone, under `unshare(1)` with one namespace at a
// time, and under bwrap with agentd's set of namespaces and mounts less one
// piece at a time. The variants take turns in four rounds, so a drift of
// the shared machine falls on all of them. Run it on an idle machine.
// Usage: node bench/bwrap-cost.js [--runs N]   (N a variant, default 400)
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const args = process.argv.slice(2);
const RUNS = Number(args[args.indexOf('--runs') + 1] || 0) || 400;
const ROUNDS = 4;
const TRUE = fs.existsSync('/usr/bin/true') ? '/usr/bin/true' : '/bin/true';
const HZ = 100; // USER_HZ: /proc/stat's unit on Linux

function busyTicks() {
  const v = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return v.reduce((a, b) => a + b, 0) - v[3] - v[4]; // all but idle and iowait
}

// agentd's bwrap set (src/proc/sandbox.c) for a command agent, without its
// worktree, holder and proxy binds
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'agentd-bwrap-cost-'));
const NS = ['--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try', '--unshare-net', '--cap-drop', 'ALL'];
const ROOT = ['--ro-bind', '/usr', '/usr'];
for (const top of ['/bin', '/sbin', '/lib', '/lib32', '/lib64']) {
  try {
    const st = fs.lstatSync(top);
    if (st.isSymbolicLink()) ROOT.push('--symlink', fs.readlinkSync(top), top);
    else if (st.isDirectory()) ROOT.push('--ro-bind', top, top);
  } catch { /* not on this machine */ }
}
ROOT.push('--ro-bind', '/etc', '/etc');
const MASKS = [];
for (const f of ['/etc/shadow', '/etc/gshadow', '/etc/shadow-', '/etc/gshadow-', '/etc/sudoers', '/etc/ssh']) {
  try {
    MASKS.push(...(fs.statSync(f).isDirectory() ? ['--tmpfs', f] : ['--ro-bind', '/dev/null', f]));
  } catch { /* not on this machine */ }
}
const PROC = ['--proc', '/proc'];
const DEV = ['--dev', '/dev'];
const TMP = ['--tmpfs', '/tmp', '--dir', '/var/tmp'];
const HOME = ['--bind', home, '/home/agent', '--chdir', '/home/agent'];
const PID1 = ['--as-pid-1'];
const set = (o = {}) => ['bwrap',
  ...(o.net === false ? NS.filter((a) => a !== '--unshare-net') : NS),
  ...ROOT, ...(o.masks === false ? [] : MASKS), ...(o.proc === false ? [] : PROC),
  ...(o.dev === false ? [] : DEV), ...TMP, ...HOME, ...PID1, '--', TRUE];

const variants = [
  ['true alone', [TRUE]],
  ['unshare -U (a user namespace)', ['unshare', '-U', TRUE]],
  ['unshare -U -n (and a network one)', ['unshare', '-U', '-n', TRUE]],
  ['unshare -U -p -f (and a PID one)', ['unshare', '-U', '-p', '-f', TRUE]],
  ['unshare -U -m (and a mount one)', ['unshare', '-U', '-m', TRUE]],
  ['bwrap --dev-bind / /', ['bwrap', '--dev-bind', '/', '/', TRUE]],
  ["bwrap, agentd's set", set()],
  ['  less the network namespace', set({ net: false })],
  ['  less --dev', set({ dev: false })],
  ['  less --proc', set({ proc: false })],
  ["  less /etc's masks", set({ masks: false })],
];

const probe = spawnSync('bwrap', set().slice(1), { stdio: 'ignore' });
if (probe.status !== 0) {
  console.error(`bwrap-cost: bubblewrap cannot make agentd's sandbox here (exit ${probe.status}); nothing measured`);
  process.exit(1);
}
const got = variants.map(() => ({ ms: 0, cpu: 0, n: 0 }));
for (let r = 0; r < ROUNDS; r++) {
  variants.forEach(([, argv], i) => {
    const b0 = busyTicks(), t0 = process.hrtime.bigint();
    for (let k = 0; k < RUNS / ROUNDS; k++) {
      const c = spawnSync(argv[0], argv.slice(1), { stdio: 'ignore' });
      if (c.status !== 0) throw new Error(`${argv.join(' ')}: exit ${c.status}`);
    }
    got[i].ms += Number(process.hrtime.bigint() - t0) / 1e6;
    got[i].cpu += ((busyTicks() - b0) / HZ) * 1000;
    got[i].n += RUNS / ROUNDS;
  });
}
fs.rmSync(home, { recursive: true, force: true });
console.log(`| variant (${RUNS} runs each, load ${os.loadavg()[0].toFixed(2)}) | wall a start | the machine's CPU a start |`);
console.log('|---|---|---|');
variants.forEach(([name], i) => {
  console.log(`| ${name} | ${(got[i].ms / got[i].n).toFixed(2)} ms | ${(got[i].cpu / got[i].n).toFixed(2)} ms |`);
});
