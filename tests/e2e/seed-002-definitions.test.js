// SPDX-License-Identifier: MIT
// Seed fidelity, seed 002 (issue #40): the workbench picks a definition for
// what the user is about to do and falls back to a general one. agentd had
// no general definition of its own, so with an empty folder the selection
// came back empty; now one is built in, and a file named general replaces it.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startApi } = require('./lib/api');

test('selection falls back to the built-in general definition; a general file replaces it', async () => {
  const d = await startApi();
  try {
    let r = await d.req('POST', '/api/definitions/select', { prompt: 'qwertyuiop zxcvbnm' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.default, true);
    assert.equal(r.body.definition.name, 'general');
    assert.equal(r.body.definition.source, 'builtin');
    r = await d.req('GET', '/api/definitions/general');
    assert.equal(r.status, 200);
    assert.match(r.body.systemPrompt, /general-purpose assistant/);
    assert.equal(r.body.error, undefined);
    r = await d.req('GET', '/api/definitions');
    assert.ok(JSON.stringify(r.body).includes('"builtin"'));
    // a chat made with it takes its prompt
    r = await d.req('POST', '/api/chats', { model: 'claude-sonnet-4-5', definition: 'general' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.match(r.body.system, /general-purpose assistant/);
    // the owner's own general definition wins, and the built-in one is gone
    const dir = path.join(d.dataDir, 'definitions');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'general.md'), '---\nname: general\ndescription: ours\n---\nOur own general prompt.\n');
    r = await d.req('POST', '/api/definitions/select', { prompt: 'qwertyuiop zxcvbnm' });
    assert.equal(r.body.definition.source, 'data');
    assert.equal(r.body.definition.description, 'ours');
    r = await d.req('GET', '/api/definitions');
    assert.ok(!JSON.stringify(r.body).includes('"builtin"'));
  } finally {
    await d.cleanup();
  }
});
