// SPDX-License-Identifier: MIT
// Row S4 of bench/README.md (issue #76): search over a data dir of 1M
// messages. Makes (or reuses, --dir) the dir with c/searchgen.c, which
// times the backfill an upgraded data dir pays once (migration 2950
// indexing every message), then starts the release agentd on it and asks
// GET /api/search one request at a time, for words of four frequency bands
// (the generator's Zipf ranks: a word in nearly every message, in ~2 %, in
// ~0.2 %, in ~0.02 %), two words, a word no message has, as the owner and
// as an organisation's token (half the messages), and prints p50 and p99 of
// each in ms with the matches' count. Figures and ratios only: nothing here
// passes or fails on time.
//   node bench/search.js [--messages N] [--dir DIR] [--queries N]
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { execFileSync } = require('node:child_process');
const agentd = require('./lib/agentd');
const sys = require('./lib/sys');

const ROOT = agentd.ROOT;
const GEN = path.join(ROOT, 'build', 'release', 'bench', 'searchgen');
const TOKEN = process.env.AGENTD_BENCH_TOKEN;

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}

// The generator's spelling of the word of rank r.
function word(r) {
  let s = 'q';
  for (let v = r; v > 0; v = Math.floor(v / 26)) s += String.fromCharCode(97 + (v % 26));
  return s;
}

function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(s.length * p))] : null;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function get(port, p, token) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.get({ host: '127.0.0.1', port, path: p, agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, ms: Number(process.hrtime.bigint() - t0) / 1e6, body: Buffer.concat(chunks).toString() }));
    });
    req.setTimeout(60000, () => req.destroy(new Error(`GET ${p}: timeout`)));
    req.on('error', reject);
  });
}

// n searches of words (round robin), one at a time: p50/p99 of the time
// to the answer, and the server's CPU a search (which other load on the
// machine does not inflate).
async function band(port, token, name, words, n, pid) {
  const times = [];
  let hits = 0;
  const cpu0 = pid ? sys.cpuSeconds(pid) : 0;
  for (let i = 0; i < n; i++) {
    const q = words[i % words.length];
    const r = await get(port, `/api/search?q=${encodeURIComponent(q)}&limit=20`, token);
    if (r.status !== 200) throw new Error(`${q}: ${r.status} ${r.body}`);
    hits += JSON.parse(r.body).results.length;
    times.push(r.ms);
  }
  const cpuMs = pid ? ((sys.cpuSeconds(pid) - cpu0) * 1000) / n : null;
  return { name, n, p50: pct(times, 0.5), p99: pct(times, 0.99), meanHits: hits / n, cpuMs };
}

async function main() {
  const messages = Number(arg('--messages', '1000000'));
  const queries = Number(arg('--queries', '200'));
  const dir = arg('--dir', null) || fs.mkdtempSync(path.join(os.tmpdir(), 'agentd-search-'));
  execFileSync('make', ['-s', 'BUILD=release', 'build/release/agentd', 'build/release/bench/searchgen'],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  console.log(`S4 generating (or reusing) ${dir} with ${messages} messages`);
  const gen = JSON.parse(execFileSync(GEN, ['--dir', dir, '--messages', String(messages)],
    { timeout: 4 * 3600 * 1000 }).toString().trim().split('\n').pop());
  console.log(JSON.stringify(gen));
  const h = await agentd.start({ dataDir: dir, timeoutMs: 600000 });
  try {
    const tok = await new Promise((resolve, reject) => {
      const body = JSON.stringify({ name: 'bench search', scope: 'read', orgId: 'org_bench' });
      const req = http.request({ host: '127.0.0.1', port: h.port, path: '/api/tokens', method: 'POST', agent,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        const c = [];
        res.on('data', (x) => c.push(x));
        res.on('end', () => (res.statusCode === 201 ? resolve(JSON.parse(Buffer.concat(c).toString()).token) : reject(new Error(Buffer.concat(c).toString()))));
      });
      req.on('error', reject);
      req.end(body);
    });
    const ranks = (lo, hi) => Array.from({ length: 20 }, (_, i) => word(lo + Math.floor(((hi - lo) * i) / 20)));
    const rows = [];
    const bands = [
      ['common word (rank 1-5, in ~all messages)', ranks(1, 5)],
      ['frequent word (rank 100-200)', ranks(100, 200)],
      ['rarer word (rank 1,000-2,000)', ranks(1000, 2000)],
      ['rare word (rank 10,000-20,000)', ranks(10000, 20000)],
      ['two words (ranks 100-200 and 1,000-2,000)', ranks(100, 200).map((w, i) => `${w} ${ranks(1000, 2000)[i]}`)],
      ['a word no message has', ['zzzzzz', 'nosuchword', 'xqxqxq']],
    ];
    for (const [name, words] of bands) {
      await band(h.port, TOKEN, name, words, 5); // warm the cache
      rows.push(await band(h.port, TOKEN, `owner: ${name}`, words, queries, h.pid));
      rows.push(await band(h.port, tok, `org token: ${name}`, words, queries, h.pid));
    }
    console.log(`\nS4: GET /api/search on ${messages.toLocaleString()} messages, one request at a time, ${queries} each (ms)`);
    console.log(`(load average at the end: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.cpus().length} cores)`);
    console.log('| query | p50 | p99 | server CPU a search | hits per answer |');
    console.log('|---|---|---|---|---|');
    for (const r of rows) {
      console.log(`| ${r.name} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.cpuMs == null ? 'n/a' : r.cpuMs.toFixed(2)} | ${r.meanHits.toFixed(1)} |`);
    }
    if (gen.seconds) {
      console.log(`\nbackfill (migration 2950 on the ${messages.toLocaleString()} messages of an older data dir): `
        + `${gen.seconds.backfill.toFixed(1)} s; the rows themselves took ${gen.seconds.rows.toFixed(1)} s to insert; `
        + `database ${(gen.bytesBefore / 1048576).toFixed(0)} MiB before, ${(gen.bytes / 1048576).toFixed(0)} MiB after `
        + `(${(gen.bytes / gen.bytesBefore).toFixed(2)}x)`);
    }
  } finally {
    await h.stop(true);
    agent.destroy();
    if (!process.argv.includes('--dir')) fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
