// SPDX-License-Identifier: MIT
// The app-server protocol agentd speaks, pinned to the Codex CLI of the
// lockfile: `codex app-server generate-json-schema` of that version is
// dumped, and every method, field, item type, approval decision and enum
// value agentd sends or reads (tests/fixtures/codex-app-protocol.json) must
// be in it. The list must also cover every method named in agentd's source
// (src/agent/appserver.c, appitems.c, apprpc.c), so it cannot fall behind the code.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { CODEX_BIN, codexMissingReason } = require('../fixtures/cli-run');

const skip = codexMissingReason() || false;
const ROOT = path.join(__dirname, '..', '..');
const PIN = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests/fixtures/codex-app-protocol.json'), 'utf8'));

// Every schema file of the dump: roots by file name, definitions merged.
function loadDump(dir) {
  const roots = {};
  const defs = {};
  const walk = (d) => {
    for (const f of fs.readdirSync(d)) {
      const p = path.join(d, f);
      if (fs.statSync(p).isDirectory()) walk(p);
      else if (f.endsWith('.json')) {
        const s = JSON.parse(fs.readFileSync(p, 'utf8'));
        roots[f.replace(/\.json$/, '')] = s;
        Object.assign(defs, s.definitions || {});
      }
    }
  };
  walk(dir);
  return { roots, defs };
}

// The object schemas a schema may be (through $ref, anyOf, oneOf, allOf).
function alternatives(s, defs, seen = new Set()) {
  if (!s || typeof s !== 'object') return [];
  if (s.$ref) {
    const name = s.$ref.replace('#/definitions/', '');
    if (seen.has(name)) return [];
    seen.add(name);
    return alternatives(defs[name], defs, seen);
  }
  const out = [s];
  for (const k of ['anyOf', 'oneOf', 'allOf']) {
    for (const x of s[k] || []) out.push(...alternatives(x, defs, seen));
  }
  return out;
}

function hasPath(s, dotted, defs) {
  let cur = [s];
  for (const key of dotted.split('.')) {
    const next = [];
    for (const c of cur) {
      for (const a of alternatives(c, defs)) {
        if (a.properties && a.properties[key]) next.push(a.properties[key]);
        if (a.items) for (const it of alternatives(a.items, defs)) if (it.properties && it.properties[key]) next.push(it.properties[key]);
      }
    }
    if (next.length === 0) return false;
    cur = next;
  }
  return true;
}

// The oneOf arm of a union whose method (or type) enum is name.
function arm(union, key, name, defs) {
  return alternatives(union, defs).find((a) => a.properties && a.properties[key] && (a.properties[key].enum || []).includes(name));
}

// Every string value an enum-like schema allows (plain enums and oneOf arms).
function enumValues(s, defs) {
  const vals = new Set();
  for (const a of alternatives(s, defs)) for (const v of a.enum || []) vals.add(v);
  return vals;
}

test('the codex app-server schema of the pinned CLI has what agentd uses', { skip }, () => {
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests/e2e/package.json'), 'utf8'));
  const pinned = lock.dependencies['@openai/codex'];
  assert.match(execFileSync(CODEX_BIN, ['--version'], { encoding: 'utf8' }), new RegExp(`codex-cli ${pinned.replace(/\./g, '\\.')}`));
  // agentd's minimum app-server version is the pinned one
  const header = fs.readFileSync(path.join(ROOT, 'src/agent/agent.h'), 'utf8');
  assert.ok(header.includes(`#define AD_CODEX_APP_MIN "${pinned}"`), 'AD_CODEX_APP_MIN is the lockfile version');

  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'agentd-codex-schema-'));
  try {
    const out = path.join(home, 'schema');
    execFileSync(CODEX_BIN, ['app-server', 'generate-json-schema', '--out', out], { env: { ...process.env, HOME: home, CODEX_HOME: path.join(home, '.codex') }, stdio: 'pipe' });
    const { roots, defs } = loadDump(out);
    const missing = [];
    const need = (ok, what) => { if (!ok) missing.push(what); };

    for (const [method, want] of Object.entries(PIN.clientRequests)) {
      const a = arm(roots.ClientRequest, 'method', method, defs);
      need(a, `client request ${method}`);
      if (!a) continue;
      for (const f of want.params || []) need(hasPath(a.properties.params, f, defs), `${method} params.${f}`);
      for (const f of want.result || []) need(hasPath(defs[want.response] || roots[want.response], f, defs), `${method} result.${f} (${want.response})`);
    }
    for (const method of PIN.clientNotifications) need(arm(roots.ClientNotification, 'method', method, defs), `client notification ${method}`);
    const textInput = alternatives(defs.UserInput, defs).find((a) => a.properties && a.properties.type && (a.properties.type.enum || []).includes(PIN.userInput.type));
    need(textInput, 'UserInput text');
    for (const f of PIN.userInput.fields) need(textInput && textInput.properties[f], `UserInput.${f}`);
    for (const [method, want] of Object.entries(PIN.serverRequests)) {
      const a = arm(roots.ServerRequest, 'method', method, defs);
      need(a, `server request ${method}`);
      if (!a) continue;
      for (const f of want.params) need(hasPath(a.properties.params, f, defs), `${method} params.${f}`);
      const resp = roots[want.response];
      need(resp && hasPath(resp, 'decision', defs), `${want.response}.decision`);
      const decisions = resp ? enumValues(resp.properties.decision, { ...defs, ...(resp.definitions || {}) }) : new Set();
      for (const d of want.decisions) need(decisions.has(d), `${method} decision ${d}`);
    }
    for (const [method, fields] of Object.entries(PIN.notifications)) {
      const a = arm(roots.ServerNotification, 'method', method, defs);
      need(a, `notification ${method}`);
      if (!a) continue;
      for (const f of fields) need(hasPath(a.properties.params, f, defs), `${method} params.${f}`);
    }
    for (const [type, fields] of Object.entries(PIN.items)) {
      const a = arm(defs.ThreadItem, 'type', type, defs);
      need(a, `item ${type}`);
      if (!a) continue;
      for (const f of fields) need(a.properties[f], `item ${type}.${f}`);
    }
    for (const [name, values] of Object.entries(PIN.enums)) {
      const vals = enumValues(defs[name], defs);
      for (const v of values) need(vals.has(v), `${name} ${v}`);
    }
    assert.deepEqual(missing, [], `not in the schema of codex ${pinned}`);
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
});

test('every app-server method in agentd\'s source is in the pinned list', () => {
  const listed = new Set([...Object.keys(PIN.clientRequests), ...PIN.clientNotifications,
    ...Object.keys(PIN.serverRequests), ...Object.keys(PIN.notifications)]);
  const used = new Set();
  for (const f of ['src/agent/appserver.c', 'src/agent/appitems.c', 'src/agent/apprpc.c']) {
    const src = fs.readFileSync(path.join(ROOT, f), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
    for (const m of src.matchAll(/"([a-z][A-Za-z]*(?:\/[A-Za-z]+)+|initialize|initialized|error)"/g)) used.add(m[1]);
  }
  const unlisted = [...used].filter((m) => !listed.has(m));
  assert.deepEqual(unlisted, [], 'methods used but not pinned');
  assert.ok(used.has('turn/steer') && used.has('item/commandExecution/requestApproval'));
});
