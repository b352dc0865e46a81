// SPDX-License-Identifier: MIT
// Imports that tail (issue #35): a TensorBoard log folder, an MLflow run
// folder and a CSV, imported once or followed while they are written. The
// files are written here byte for byte: TFRecord framing (length, masked
// CRC32C of it, data, masked CRC32C of the data) around Event/Summary
// protobufs (scalars as simple_value and as TF2 tensors, histograms as
// HistogramProto and as TF2 [k, 3] tensors), MLflow's file-store layout,
// CSV rows. Every value is compared; a torn last record or line is waited
// on, a damaged record is skipped and counted.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const daemon = require('./lib/daemon');
const { startApi, api, until, assertError } = require('./lib/api');

// ---- TFRecord and protobuf, written by hand ----------------------------------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();
function crc32c(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
const masked = (crc) => ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;

function record(data) {
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(data.length));
  const lc = Buffer.alloc(4);
  lc.writeUInt32LE(masked(crc32c(len)));
  const dc = Buffer.alloc(4);
  dc.writeUInt32LE(masked(crc32c(data)));
  return Buffer.concat([len, lc, data, dc]);
}

function varint(n) {
  let v = BigInt(n);
  const out = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return Buffer.from(out);
}
const key = (num, wt) => varint((num << 3) | wt);
const bytes = (num, b) => Buffer.concat([key(num, 2), varint(b.length), b]);
const str = (num, s) => bytes(num, Buffer.from(s, 'utf8'));
const vint = (num, n) => Buffer.concat([key(num, 0), varint(n)]);
function f64(num, x) { const b = Buffer.alloc(8); b.writeDoubleLE(x); return Buffer.concat([key(num, 1), b]); }
function f32(num, x) { const b = Buffer.alloc(4); b.writeFloatLE(x); return Buffer.concat([key(num, 5), b]); }
function packedF64(num, xs) { const b = Buffer.alloc(8 * xs.length); xs.forEach((x, i) => b.writeDoubleLE(x, 8 * i)); return bytes(num, b); }

// Event {wall_time 1, step 2, file_version 3, summary 5 {value 1 {tag 1, simple_value 2, histo 5, tensor 8, metadata 9}}}
const event = (wall, step, values) => Buffer.concat([f64(1, wall), vint(2, step), bytes(5, Buffer.concat(values.map((v) => bytes(1, v))))]);
const scalar = (tag, x) => Buffer.concat([str(1, tag), f32(2, x)]);
// TF2: a DT_FLOAT scalar tensor with the scalars plugin's metadata
const tensorScalar = (tag, x) => Buffer.concat([str(1, tag),
  bytes(9, bytes(1, str(1, 'scalars'))),
  bytes(8, Buffer.concat([vint(1, 1), bytes(2, Buffer.alloc(0)), (() => { const b = Buffer.alloc(4); b.writeFloatLE(x); return bytes(4, b); })()]))]);
// HistogramProto {min 1, max 2, num 3, sum 4, sum_squares 5, bucket_limit 6, bucket 7}
const histo = (tag, min, max, limits, counts) => Buffer.concat([str(1, tag), bytes(5, Buffer.concat([
  f64(1, min), f64(2, max), f64(3, counts.reduce((a, b) => a + b, 0)), f64(4, 0), f64(5, 0),
  packedF64(6, limits), packedF64(7, counts)]))]);
// TF2: a [k, 3] DT_DOUBLE tensor of (left, right, count), the histograms plugin
const tensorHisto = (tag, rows) => Buffer.concat([str(1, tag),
  bytes(9, bytes(1, str(1, 'histograms'))),
  bytes(8, Buffer.concat([vint(1, 2),
    bytes(2, Buffer.concat([bytes(2, vint(1, rows.length)), bytes(2, vint(1, 3))])),
    (() => { const b = Buffer.alloc(24 * rows.length); rows.flat().forEach((x, i) => b.writeDoubleLE(x, 8 * i)); return bytes(4, b); })()]))]);
const fileVersion = () => record(Buffer.concat([f64(1, 1700000000), str(3, 'brain.Event:2')]));

// ---- the daemon ---------------------------------------------------------------------

let d, wt;
const TMP = daemon.tmpDir('agentd-imports-');

test.before(async () => {
  d = await startApi();
  const r = await api(d, 'POST', '/api/workspaces', { path: daemon.tmpRepo('agentd-imp-'), name: 'w' });
  assert.equal(r.status, 201, r.text);
  wt = r.body.worktrees[0].id;
});
test.after(async () => { await d.cleanup(); fs.rmSync(TMP, { recursive: true, force: true }); });

async function startImport(body) {
  const r = await api(d, 'POST', '/api/imports', { worktreeId: wt, ...body });
  assert.equal(r.status, 201, r.text);
  return r.body;
}
const imp = async (id) => (await api(d, 'GET', `/api/imports/${id}`)).body;
const done = (id) => until(async () => { const x = await imp(id); return x.status !== 'running' ? x : null; }, 'the import to end');
async function rows(runId, name) {
  const r = await api(d, 'GET', `/api/runs/${runId}/metrics/export?format=jsonl&names=${encodeURIComponent(name)}`);
  assert.equal(r.status, 200, r.text);
  return r.text.trimEnd().split('\n').filter(Boolean).map((l) => JSON.parse(l)).map((p) => [p.step, p.value, p.ts]);
}

test('a TensorBoard folder once: scalars (simple and TF2 tensors) and histograms (proto and tensor), every value', async () => {
  const dir = path.join(TMP, 'tb1');
  fs.mkdirSync(dir);
  const recs = [fileVersion()];
  const loss = [], acc = [];
  for (let s = 0; s < 50; s++) {
    const wall = 1700000000 + s * 0.5;
    const l = 1 / (s + 1) + 0.123456789; // float32 on the wire
    const vals = [scalar('train/loss', l)];
    loss.push([s, Math.fround(l), Math.round(wall * 1000)]);
    if (s % 5 === 0) { vals.push(tensorScalar('eval/acc', s / 50)); acc.push([s, Math.fround(s / 50), Math.round(wall * 1000)]); }
    if (s === 10) vals.push(histo('weights', -1, 3, [-0.5, 0, 1, 2, 1.7976931348623157e308], [0, 4, 6, 2, 1]));
    if (s === 20) vals.push(tensorHisto('weights', [[-2, -1, 3], [-1, 0, 0], [0, 5, 7]]));
    recs.push(record(event(wall, s, vals)));
  }
  // a record whose data CRC is wrong: skipped and counted, the next still read
  const broken = record(event(1700000100, 999, [scalar('train/loss', 5)]));
  broken[broken.length - 1] ^= 0xff;
  recs.splice(5, 0, broken);
  fs.writeFileSync(path.join(dir, 'events.out.tfevents.1700000000.host.1.v2'), Buffer.concat(recs));

  const x = await startImport({ kind: 'tfevents', path: dir, name: 'tb once' });
  assert.equal(x.kind, 'tfevents');
  assert.equal(x.follow, false);
  const end = await done(x.id);
  assert.equal(end.status, 'done', JSON.stringify(end));
  assert.equal(end.points, 60);
  assert.equal(end.state.skipped, 1, 'the damaged record');
  const run = (await api(d, 'GET', `/api/runs/${x.runId}`)).body;
  assert.equal(run.name, 'tb once');
  assert.equal(run.status, 'succeeded');
  assert.deepEqual(await rows(x.runId, 'train/loss'), loss);
  assert.deepEqual(await rows(x.runId, 'eval/acc'), acc);
  const h = await api(d, 'GET', `/api/runs/${x.runId}/histograms/weights?view=range`);
  assert.equal(h.status, 200, h.text);
  assert.deepEqual(h.body.items.map((i) => i.step), [10, 20]);
  // proto: empty first bucket dropped, the first edge the min, the DBL_MAX limit becomes max
  assert.deepEqual(h.body.items[0].edges, [-1, 0, 1, 2, 3]);
  assert.deepEqual(h.body.items[0].counts, [4, 6, 2, 1]);
  assert.deepEqual(h.body.items[1].edges, [-2, -1, 0, 5]);
  assert.deepEqual(h.body.items[1].counts, [3, 0, 7]);
  assert.equal(h.body.items[1].ts, Math.round((1700000000 + 10) * 1000));
});

test('a TensorBoard folder followed: a torn last record is waited on, then read whole', async () => {
  const dir = path.join(TMP, 'tb2');
  fs.mkdirSync(dir);
  const file = path.join(dir, 'events.out.tfevents.1700000001.host.2.v2');
  const recs = [];
  for (let s = 0; s < 10; s++) recs.push(record(event(1700000000 + s, s, [scalar('r', s * 1.5)])));
  fs.writeFileSync(file, Buffer.concat([fileVersion(), ...recs]));
  const x = await startImport({ kind: 'tfevents', path: dir, follow: true });
  await until(async () => (await imp(x.id)).points === 10, 'the first ten steps');
  // half a record: the trainer is still writing it
  const next = record(event(1700000010, 10, [scalar('r', 15)]));
  const half = 17;
  fs.appendFileSync(file, next.subarray(0, half));
  const name = path.basename(file);
  const seen = await until(async () => { const s = await imp(x.id); return s.state.tail?.[name] === half ? s : null; },
    'the import to see the torn tail');
  assert.equal(seen.status, 'running');
  assert.equal(seen.error, null);
  assert.equal(seen.state.skipped, 0, 'a torn tail is not a damaged record');
  fs.appendFileSync(file, Buffer.concat([next.subarray(half), record(event(1700000011, 11, [scalar('r', 16.5)]))]));
  await until(async () => (await imp(x.id)).points === 12, 'the torn record and the next one');
  const got = await rows(x.runId, 'r');
  assert.deepEqual(got.map((p) => [p[0], p[1]]), Array.from({ length: 12 }, (_, s) => [s, s * 1.5]));
  assert.equal((await api(d, 'GET', `/api/runs/${x.runId}`)).body.status, 'running', 'followed: the run goes on');
  const stop = await api(d, 'POST', `/api/imports/${x.id}/stop`, {});
  assert.equal(stop.status, 200, stop.text);
  assert.equal((await done(x.id)).status, 'stopped');
  await until(async () => (await api(d, 'GET', `/api/runs/${x.runId}`)).body.status === 'stopped', 'the run stopped');
});

// A training run writes the folder an import reads, so it can put a FIFO
// there; an open of one waits for a writer, and the import's reads run on
// the pool the store and git share. Four imports of such a folder must each
// end (the pool has four threads) and read the real file beside it.
test('a FIFO among a TensorBoard folder\'s files parks no thread: each import ends, with the real file read', async () => {
  const dir = path.join(TMP, 'tb-fifo');
  fs.mkdirSync(dir);
  const recs = [];
  for (let s = 0; s < 10; s++) recs.push(record(event(1700000000 + s, s, [scalar('f', s)])));
  fs.writeFileSync(path.join(dir, 'events.out.tfevents.1700000002.host.3.v2'), Buffer.concat([fileVersion(), ...recs]));
  const fifo = path.join(dir, 'events.out.tfevents.1700000003.host.4.v2');
  const mk = spawnSync('mkfifo', [fifo]);
  assert.equal(mk.status, 0, String(mk.stderr));
  for (let i = 0; i < 4; i++) {
    const x = await startImport({ kind: 'tfevents', path: dir, name: `fifo ${i}` });
    const end = await done(x.id);
    assert.equal(end.points, 10, JSON.stringify(end));
  }
});

function mlrun(dir, { status, lines }) {
  fs.mkdirSync(path.join(dir, 'metrics', 'train'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'params'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'tags'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'meta.yaml'), `artifact_uri: file:///x/artifacts\nend_time: ${status === 3 ? 1700000999000 : 'null'}\n` +
    `entry_point_name: ''\nexperiment_id: '0'\nlifecycle_stage: active\nrun_id: abc123\nrun_name: fancy-run\n` +
    `run_uuid: abc123\nsource_name: ''\nsource_type: 4\nsource_version: ''\nstart_time: 1700000000000\nstatus: ${status}\n` +
    'tags: []\nuser_id: tester\n');
  fs.writeFileSync(path.join(dir, 'params', 'lr'), '0.001');
  fs.writeFileSync(path.join(dir, 'params', 'optimizer'), 'adam');
  fs.writeFileSync(path.join(dir, 'tags', 'mlflow.runName'), 'fancy-run');
  fs.writeFileSync(path.join(dir, 'metrics', 'loss'), lines.loss);
  fs.writeFileSync(path.join(dir, 'metrics', 'train', 'acc'), lines.acc);
}

test('an MLflow run folder once: metrics (nested keys too), params as the config, its name and end', async () => {
  const dir = path.join(TMP, 'mlruns', '0', 'abc123');
  const loss = Array.from({ length: 30 }, (_, s) => [s, 2 / (s + 1), 1700000000000 + s * 1000]);
  const acc = Array.from({ length: 30 }, (_, s) => [s * 2, s / 30, 1700000000000 + s * 2000]);
  mlrun(dir, { status: 3, lines: {
    loss: loss.map(([s, v, t]) => `${t} ${v} ${s}\n`).join(''),
    acc: acc.map(([s, v, t]) => `${t} ${v} ${s}\n`).join(''),
  } });
  const x = await startImport({ kind: 'mlruns', path: dir });
  assert.equal((await done(x.id)).status, 'done');
  const run = (await api(d, 'GET', `/api/runs/${x.runId}`)).body;
  assert.equal(run.name, 'fancy-run');
  assert.equal(run.status, 'succeeded');
  assert.deepEqual(run.config.values, { lr: 0.001, optimizer: 'adam' });
  assert.deepEqual(await rows(x.runId, 'loss'), loss);
  assert.deepEqual(await rows(x.runId, 'train/acc'), acc);
});

test('an MLflow run followed until its meta.yaml says it finished; a line without its newline waits', async () => {
  const dir = path.join(TMP, 'mlruns', '0', 'def456');
  mlrun(dir, { status: 1, lines: { loss: '1700000000000 0.5 0\n1700000001000 0.25 1\n1700000002000 0.12', acc: '' } });
  const x = await startImport({ kind: 'mlruns', path: dir, follow: true });
  await until(async () => (await imp(x.id)).state.tail?.loss === '1700000002000 0.12'.length, 'the torn line seen');
  assert.equal((await imp(x.id)).points, 2);
  fs.appendFileSync(path.join(dir, 'metrics', 'loss'), '5 2\n1700000003000 0.0625 3\n');
  await until(async () => (await imp(x.id)).points === 4, 'the rest');
  mlrun(dir, { status: 3, lines: { loss: fs.readFileSync(path.join(dir, 'metrics', 'loss'), 'utf8'), acc: '' } });
  assert.equal((await done(x.id)).status, 'done');
  assert.equal((await api(d, 'GET', `/api/runs/${x.runId}`)).body.status, 'succeeded');
  assert.deepEqual(await rows(x.runId, 'loss'), [[0, 0.5, 1700000000000], [1, 0.25, 1700000001000],
    [2, 0.125, 1700000002000], [3, 0.0625, 1700000003000]]);
});

test('a CSV: wide rows with step and time, once; into an existing run', async () => {
  const file = path.join(TMP, 'log.csv');
  const lines = ['step,time,loss,"reward ""mean"""'];
  for (let s = 0; s < 20; s++) lines.push(`${s * 10},${1700000000 + s},${(s * 0.1).toFixed(1)},${s % 3 === 0 ? '' : -s}`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  const first = await startImport({ kind: 'csv', path: file, name: 'csv run' });
  assert.equal((await done(first.id)).status, 'done');
  assert.deepEqual(await rows(first.runId, 'loss'), Array.from({ length: 20 }, (_, s) => [s * 10, Number((s * 0.1).toFixed(1)), (1700000000 + s) * 1000]));
  const rw = await rows(first.runId, 'reward "mean"');
  assert.deepEqual(rw.map((p) => p[0]), Array.from({ length: 20 }, (_, s) => s * 10).filter((s) => (s / 10) % 3 !== 0));
  // a second import attached to that run: its points join the run's
  const more = path.join(TMP, 'more.csv');
  fs.writeFileSync(more, 'step,extra\n1,7\n');
  const second = await startImport({ kind: 'csv', path: more, runId: first.runId });
  assert.equal(second.runId, first.runId);
  assert.equal((await done(second.id)).status, 'done');
  assert.deepEqual((await rows(first.runId, 'extra')).map((p) => [p[0], p[1]]), [[1, 7]]);
  assert.equal((await api(d, 'GET', `/api/runs/${first.runId}`)).body.name, 'csv run');
});

test('imports: the owner alone, absolute paths outside the data dir, and another organisation sees none', async () => {
  const tok = await api(d, 'POST', '/api/tokens', { name: 'imp-admin', scope: 'admin' });
  const asAdmin = { authorization: `Bearer ${tok.body.token}` };
  assertError(await api(d, 'POST', '/api/imports', { kind: 'csv', path: path.join(TMP, 'log.csv'), worktreeId: wt }, asAdmin), 403, 'FORBIDDEN');
  assertError(await api(d, 'POST', '/api/imports', { kind: 'csv', path: 'log.csv', worktreeId: wt }), 422, 'VALIDATION_ERROR', 'path');
  assertError(await api(d, 'POST', '/api/imports', { kind: 'csv', path: path.join(d.dataDir, 'agentd.db'), worktreeId: wt }), 422, 'VALIDATION_ERROR', 'path');
  assertError(await api(d, 'POST', '/api/imports', { kind: 'tfevents', path: path.join(TMP, 'nope'), worktreeId: wt }), 422, 'VALIDATION_ERROR', 'path');
  assertError(await api(d, 'POST', '/api/imports', { kind: 'tfevents', path: path.join(TMP, 'log.csv'), worktreeId: wt }), 422, 'VALIDATION_ERROR', 'path');
  assertError(await api(d, 'POST', '/api/imports', { kind: 'parquet', path: TMP, worktreeId: wt }), 422, 'VALIDATION_ERROR', 'kind');
  assertError(await api(d, 'POST', '/api/imports', { kind: 'csv', path: path.join(TMP, 'log.csv') }), 422, 'VALIDATION_ERROR', 'worktreeId');
  const list = (await api(d, 'GET', '/api/imports')).body.imports;
  assert.ok(list.length >= 5);
  const org = await api(d, 'POST', '/api/orgs', { name: 'imports b' });
  const b = await api(d, 'POST', '/api/tokens', { name: 'b', scope: 'admin', orgId: org.body.id });
  const asB = { authorization: `Bearer ${b.body.token}` };
  assert.deepEqual((await api(d, 'GET', '/api/imports', undefined, asB)).body.imports, []);
  assert.equal((await api(d, 'GET', `/api/imports/${list[0].id}`, undefined, asB)).status, 404);
});
