// SPDX-License-Identifier: MIT
// GET /api/search (issue #76): a word an agent printed is found once its
// line is stored (kept current as messages arrive), recorded messages, tool
// calls and tool outputs with their kind, snippets whose matches are ranges
// (never markup, never forged by the content), ranking, paging and the
// filters; org scope (another org's messages never appear, not in a page
// nor in whether more follow; another org's agent or worktree filter is a
// 404); hostile queries (FTS5's operators) are words, a malformed request a
// 422, never a 500; a deleted agent's messages leave the index. Runs on
// SQLite and, with AGENTD_TEST_DATABASE=pg (make e2e-pg), on PostgreSQL.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const daemon = require('./lib/daemon');
const { startApi, api, until, assertError, makeWorkspace, makeAgent, commandAgent } = require('./lib/api');

const PG = process.env.AGENTD_TEST_DATABASE === 'pg';
let d;
let wt;
before(async () => {
  d = await startApi();
  ({ wt } = await makeWorkspace(d));
});
after(async () => { await d.cleanup(); });

async function post(agentId, body) {
  const r = await d.req('POST', `/api/agents/${agentId}/messages`, body);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

async function search(q, extra = '', headers = {}) {
  const r = await d.req('GET', `/api/search?q=${encodeURIComponent(q)}${extra}`, undefined, headers);
  assert.equal(r.status, 200, `${q}: ${r.text}`);
  return r.body;
}

// The highlighted words of a result, as the dashboard cuts them.
function marked(hit) {
  return hit.highlights.map(([s, e]) => hit.snippet.slice(s, e));
}

test('a word a running agent printed is found once its line is stored', async () => {
  const id = await commandAgent(d, wt.id, ['sh', '-c', 'echo "the zeugmatic flux capacitor"; echo done']);
  assert.equal((await api(d, 'POST', `/api/agents/${id}/start`, {})).status, 200);
  const found = await until(async () => {
    const r = await search('zeugmatic');
    return r.results.length > 0 ? r : null;
  }, 'the printed word to be searchable');
  const hit = found.results[0];
  assert.equal(hit.agentId, id);
  assert.equal(hit.worktreeId, wt.id);
  assert.match(hit.runId, /^run_/);
  assert.equal(hit.kind, 'message');
  assert.match(hit.messageId, /^msg_/);
  assert.match(hit.createdAt, /Z$/);
  assert.ok(hit.rank > 0);
  assert.match(hit.snippet, /the zeugmatic flux capacitor/);
  assert.deepEqual(marked(hit), ['zeugmatic']);
  assert.equal(found.nextOffset, null);
  // the agent's own transcript has that message (the dashboard's link)
  const page = await d.req('GET', `/api/agents/${id}/messages?before=${hit.messageId}&limit=1`);
  assert.equal(page.status, 200);
});

test('messages, tool calls and tool outputs, each with its kind', async () => {
  const a = await makeAgent(d, wt.id, { name: 'kinds' });
  const m = await post(a.id, { content: 'please grep for the quokkaword in src' });
  const call = await post(a.id, { role: 'tool', content: '', toolName: 'Bash', toolInput: { command: 'grep -rn wombatword src' }, isComplete: false });
  const out = await post(a.id, { role: 'tool', content: '', toolName: 'Read', toolInput: { path: 'a.txt' }, toolOutput: 'line 1: numbatword here' });
  const byId = async (q) => {
    const r = await search(q, `&agent=${a.id}`);
    assert.equal(r.results.length, 1, JSON.stringify(r));
    return r.results[0];
  };
  const h1 = await byId('quokkaword');
  assert.equal(h1.messageId, m.id);
  assert.equal(h1.kind, 'message');
  assert.equal(h1.role, 'user');
  assert.equal(h1.agentName, 'kinds');
  assert.equal(h1.toolName, null);
  const h2 = await byId('wombatword');
  assert.equal(h2.messageId, call.id);
  assert.equal(h2.kind, 'tool_call');
  assert.equal(h2.toolName, 'Bash');
  assert.deepEqual(marked(h2), ['wombatword']);
  const h3 = await byId('numbatword');
  assert.equal(h3.messageId, out.id);
  assert.equal(h3.kind, 'tool_output');
  assert.deepEqual(marked(h3), ['numbatword']);
  // the tool's name is a word of the call
  assert.ok((await search('Read', `&agent=${a.id}`)).results.some((x) => x.messageId === out.id));
  // several words: every one must be there
  assert.equal((await search('quokkaword src', `&agent=${a.id}`)).results.length, 1);
  assert.equal((await search('quokkaword numbatword', `&agent=${a.id}`)).results.length, 0);
});

test('snippets are text with ranges: markup and marker bytes in content stay text', async () => {
  const a = await makeAgent(d, wt.id);
  await post(a.id, { content: '<img src=x onerror=alert(1)> \u0001fake\u0002 marks and the xylophonic word, ünïcödé 😀 xylophonic' });
  const r = await search('xylophonic', `&agent=${a.id}`);
  assert.equal(r.results.length, 1);
  const hit = r.results[0];
  assert.match(hit.snippet, /onerror=alert\(1\)>/); // as text, not escaped nor dropped
  assert.ok(!/[\u0001\u0002]/.test(hit.snippet), JSON.stringify(hit.snippet));
  // both words marked, by UTF-16 ranges past the emoji
  assert.deepEqual(marked(hit), ['xylophonic', 'xylophonic']);
  // accents are folded on SQLite (FTS5's remove_diacritics); PostgreSQL's
  // 'simple' configuration keeps them (docs/api/search.md)
  assert.equal((await search(PG ? 'ünïcödé' : 'unicode', `&agent=${a.id}`)).results.length, 1);
  assert.equal((await search('fake', `&agent=${a.id}`)).results.length, 1);
});

test('ranking, filters, since and paging', async () => {
  const { wt: wt2 } = await makeWorkspace(d);
  const a = await makeAgent(d, wt.id);
  const b = await makeAgent(d, wt2.id);
  const weak = await post(a.id, { content: 'one mention of pangolin among many other words in a long sentence about things' });
  const strong = await post(a.id, { content: 'pangolin pangolin pangolin' });
  await post(b.id, { content: 'pangolin in the second worktree' });
  const all = await search('pangolin');
  assert.equal(all.results.length, 3);
  assert.equal(all.results[0].messageId, strong.id, JSON.stringify(all.results));
  assert.ok(all.results[0].rank >= all.results[2].rank);
  assert.deepEqual((await search('pangolin', `&worktree=${wt2.id}`)).results.map((x) => x.agentId), [b.id]);
  assert.equal((await search('pangolin', `&agent=${a.id}`)).results.length, 2);
  // paging: one at a time, each once, then the end
  const seen = [];
  let offset = 0;
  for (let i = 0; i < 5 && offset !== null; i++) {
    const p = await search('pangolin', `&limit=1&offset=${offset}`);
    seen.push(...p.results.map((x) => x.messageId));
    offset = p.nextOffset;
  }
  assert.equal(offset, null);
  assert.deepEqual([...seen].sort(), all.results.map((x) => x.messageId).sort());
  // since: the future finds nothing, the past everything
  assert.equal((await search('pangolin', '&since=2999-01-01T00:00:00Z')).results.length, 0);
  assert.equal((await search('pangolin', '&since=2000-01-01T00:00:00Z')).results.length, 3);
  assert.ok(weak.id);
});

test('org scope: another org never appears, not even in whether more follow', async () => {
  const org = (await d.req('POST', '/api/orgs', { name: 'search-other' })).body;
  const tokB = (await d.req('POST', '/api/tokens', { name: 'search b', scope: 'read', orgId: org.id })).body;
  const tokA = (await d.req('POST', '/api/tokens', { name: 'search a', scope: 'read', orgId: 'org_default' })).body;
  const hA = { authorization: `Bearer ${tokA.token}` };
  const hB = { authorization: `Bearer ${tokB.token}` };
  const ws = await d.req('POST', '/api/workspaces', { path: daemon.tmpRepo('agentd-search-b-', d.dataDir), orgId: org.id });
  assert.equal(ws.status, 201, ws.text);
  const wtB = ws.body.worktrees[0].id;
  const agB = await makeAgent(d, wtB);
  const agA = await makeAgent(d, wt.id);
  const mine = await post(agA.id, { content: 'the axolotl of org a' });
  for (let i = 0; i < 5; i++) await post(agB.id, { content: `axolotl number ${i} of org b` });
  const a = await search('axolotl', '&limit=1', hA);
  assert.deepEqual(a.results.map((x) => x.messageId), [mine.id]);
  assert.equal(a.nextOffset, null);
  const b = await search('axolotl', '&limit=100', hB);
  assert.equal(b.results.length, 5);
  assert.ok(b.results.every((x) => x.agentId === agB.id));
  assert.equal((await search('axolotl', '&limit=100')).results.length, 6); // the owner's: every org
  // another org's agent or worktree as a filter: as missing
  assertError(await d.req('GET', `/api/search?q=axolotl&agent=${agB.id}`, undefined, hA), 404, 'NOT_FOUND');
  assertError(await d.req('GET', `/api/search?q=axolotl&worktree=${wtB}`, undefined, hA), 404, 'NOT_FOUND');
  assertError(await d.req('GET', '/api/search?q=axolotl&agent=ag_nope'), 404, 'NOT_FOUND');
  const anon = await fetch(`${d.url}/api/search?q=axolotl`);
  assert.equal(anon.status, 401);
});

test('hostile queries are words; malformed requests are 422', async () => {
  const a = await makeAgent(d, wt.id);
  await post(a.id, { content: 'NEAR the OR and AND col:umn "quoted" star* caret^ (paren) minus-sign' });
  for (const q of ['NEAR(a b)', '"unbalanced', 'a OR b', 'body:secret', '^x', '*', '-', 'AND', ')(', 'x"y',
    "'; DROP TABLE messages; --", '{body call}: x', 'a + b', 'NOT', '\\', '%', '_', '...', 'NEAR']) {
    const r = await d.req('GET', `/api/search?q=${encodeURIComponent(q)}`);
    assert.equal(r.status, 200, `${q}: ${r.text}`);
    assert.ok(Array.isArray(r.body.results), q);
  }
  // the operators' words are found as words
  assert.ok((await search('NEAR', `&agent=${a.id}`)).results.length === 1);
  assert.ok((await search('col:umn', `&agent=${a.id}`)).results.length === 1);
  assert.ok((await search('"quoted"', `&agent=${a.id}`)).results.length === 1);
  assert.ok((await search('(paren)', `&agent=${a.id}`)).results.length === 1);
  for (const [q, field] of [['', 'q'], ['   ', 'q'], ['x'.repeat(257), 'q'], ['a\u0001b', 'q'],
    [Array.from({ length: 17 }, (_, i) => `w${i}`).join(' '), 'q']]) {
    assertError(await d.req('GET', `/api/search?q=${encodeURIComponent(q)}`), 422, 'VALIDATION_ERROR', field);
  }
  assertError(await d.req('GET', '/api/search'), 422, 'VALIDATION_ERROR', 'q');
  assertError(await d.req('GET', '/api/search?q=%ff%fe'), 422, 'VALIDATION_ERROR', 'q');
  for (const [qs, field] of [['limit=0', 'limit'], ['limit=101', 'limit'], ['limit=ten', 'limit'],
    ['offset=-1', 'offset'], ['offset=10001', 'offset'], ['since=yesterday', 'since']]) {
    assertError(await d.req('GET', `/api/search?q=x&${qs}`), 422, 'VALIDATION_ERROR', field);
  }
  // the messages are all still there
  assert.equal((await d.req('GET', `/api/agents/${a.id}/messages`)).body.messages.length, 1);
});

test('a deleted agent\'s messages leave the index', async () => {
  const a = await makeAgent(d, wt.id);
  await post(a.id, { content: 'the capybara stays' });
  const gone = await makeAgent(d, wt.id);
  await post(gone.id, { content: 'the capybara goes' });
  assert.equal((await search('capybara')).results.length, 2);
  assert.equal((await d.req('DELETE', `/api/agents/${gone.id}?archive=false`)).status, 204);
  const left = await search('capybara');
  assert.deepEqual(left.results.map((x) => x.agentId), [a.id]);
  assert.equal((await search('goes')).results.filter((x) => x.agentId === gone.id).length, 0);
});

test('agentd search: hits as lines, names resolved, --json, errors', async () => {
  const a = await makeAgent(d, wt.id, { name: 'cli-searcher' });
  const m = await post(a.id, { content: 'the okapi ran \u001b[31mred\u001b[0m across the field' });
  const cli = (...args) => daemon.runAsync(['--data-dir', d.dataDir, 'search', ...args]);
  const r = await cli('okapi', '--agent', 'cli-searcher');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`cli-searcher\\s+message\\s+${m.id}`));
  assert.match(r.stdout, /the okapi ran/);
  assert.ok(!r.stdout.includes('\u001b'), JSON.stringify(r.stdout)); // the content's escapes are blanks
  const j = await cli('okapi', '--json', '--limit', '1');
  assert.equal(j.status, 0, j.stderr);
  assert.equal(JSON.parse(j.stdout).results[0].messageId, m.id);
  const none = await cli('nosuchwordatall');
  assert.equal(none.status, 0);
  assert.match(none.stdout, /no messages match/);
  const bad = await cli('okapi', '--limit', '0');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /limit/);
  assert.equal((await cli('okapi', '--agent', 'no-such-agent')).status, 1);
  assert.equal((await cli()).status, 2);
});
