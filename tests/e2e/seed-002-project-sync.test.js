// SPDX-License-Identifier: MIT
// Seed fidelity, seed 002 (issue #40): a workbench project's files kept in
// sync with a folder, opt-in per project and only under a root the daemon
// was given. Files saved in the project appear in the folder; files edited
// or added in the folder come into the project; nothing leaves the folder
// through a link, and nothing is deleted on either side.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startApi, until, assertError } = require('./lib/api');
const { tmpDir } = require('./lib/daemon');

test('a project kept in sync with a folder under --project-sync-roots, both ways', async () => {
  const root = fs.realpathSync(tmpDir('agentd-sync-root-'));
  const outside = fs.realpathSync(tmpDir('agentd-sync-out-'));
  const d = await startApi({ args: ['--project-sync-roots', root, '--project-sync-interval-ms', '200'] });
  try {
    const proj = (await d.req('POST', '/api/projects', { name: 'synced' })).body;
    const folder = path.join(root, 'synced');
    fs.mkdirSync(folder);
    // refused: outside the roots, not a folder, a link in the path, a read token
    assertError(await d.req('PUT', `/api/projects/${proj.id}/sync`, { path: outside }), 422, 'VALIDATION_ERROR', 'path');
    assertError(await d.req('PUT', `/api/projects/${proj.id}/sync`, { path: path.join(root, 'nope') }), 422, 'VALIDATION_ERROR', 'path');
    fs.symlinkSync(outside, path.join(root, 'link'));
    assertError(await d.req('PUT', `/api/projects/${proj.id}/sync`, { path: path.join(root, 'link') }), 422, 'VALIDATION_ERROR', 'path');
    const reader = (await d.req('POST', '/api/tokens', { name: 'r', scope: 'write' })).body.token;
    let r = await d.req('PUT', `/api/projects/${proj.id}/sync`, { path: folder }, { authorization: `Bearer ${reader}` });
    assert.equal(r.status, 403);
    assert.equal((await d.req('GET', `/api/projects/${proj.id}/sync`)).body.path, null);

    // project -> folder: what is there, and every later change
    await d.req('PUT', `/api/projects/${proj.id}`, { files: [{ path: 'README.md', content: '# hi\n' }] });
    r = await d.req('PUT', `/api/projects/${proj.id}/sync`, { path: folder });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await until(() => fs.existsSync(path.join(folder, 'README.md')), 'README.md in the folder');
    assert.equal(fs.readFileSync(path.join(folder, 'README.md'), 'utf8'), '# hi\n');
    r = await d.req('PATCH', `/api/projects/${proj.id}/files`, { changes: [{ path: 'src/app.js', content: 'console.log(1);\n' }] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await until(() => fs.existsSync(path.join(folder, 'src/app.js')), 'src/app.js in the folder');
    await until(async () => (await d.req('GET', `/api/projects/${proj.id}/sync`)).body.syncedAt, 'a sync time');

    // folder -> project: an edit and a new file come in; a link, a dot file do not
    fs.writeFileSync(path.join(folder, 'src/app.js'), 'console.log(2);\n');
    fs.writeFileSync(path.join(folder, 'notes.txt'), 'from the folder\n');
    fs.writeFileSync(path.join(folder, '.secret'), 'hidden\n');
    fs.writeFileSync(path.join(outside, 'passwd'), 'outside\n');
    fs.symlinkSync(path.join(outside, 'passwd'), path.join(folder, 'escape.txt'));
    const files = async () => Object.fromEntries((await d.req('GET', `/api/projects/${proj.id}`)).body.files.map((f) => [f.path, f.content]));
    await until(async () => {
      const f = await files();
      return f['src/app.js'] === 'console.log(2);\n' && f['notes.txt'] === 'from the folder\n';
    }, 'the folder\'s changes in the project');
    const f = await files();
    assert.equal(f['.secret'], undefined);
    assert.equal(f['escape.txt'], undefined);
    assert.equal(f['README.md'], '# hi\n');
    // a file the project has and the folder lost is not deleted from the project
    fs.unlinkSync(path.join(folder, 'README.md'));
    r = await d.req('PATCH', `/api/projects/${proj.id}/files`, { changes: [{ path: 'later.txt', content: 'x' }] });
    await until(() => fs.existsSync(path.join(folder, 'later.txt')), 'later.txt in the folder');
    assert.equal((await files())['README.md'], '# hi\n');
    assert.ok(fs.existsSync(path.join(folder, 'README.md')), 'a push writes it back');
    assert.equal(fs.readFileSync(path.join(outside, 'passwd'), 'utf8'), 'outside\n');

    // stopped: the folder is left alone (a second, synced project shows that
    // pushes and read rounds went on meanwhile)
    assert.equal((await d.req('DELETE', `/api/projects/${proj.id}/sync`)).status, 200);
    r = await d.req('GET', `/api/projects/${proj.id}/sync`);
    assert.equal(r.body.path, null);
    await d.req('PATCH', `/api/projects/${proj.id}/files`, { changes: [{ path: 'after.txt', content: 'y' }] });
    fs.writeFileSync(path.join(folder, 'late.txt'), 'late\n');
    const witness = (await d.req('POST', '/api/projects', { name: 'witness' })).body;
    const wfolder = path.join(root, 'witness');
    fs.mkdirSync(wfolder);
    assert.equal((await d.req('PUT', `/api/projects/${witness.id}/sync`, { path: wfolder })).status, 200);
    await d.req('PATCH', `/api/projects/${witness.id}/files`, { changes: [{ path: 'w.txt', content: 'w' }] });
    await until(() => fs.existsSync(path.join(wfolder, 'w.txt')), 'the witness pushed');
    fs.writeFileSync(path.join(wfolder, 'back.txt'), 'back\n');
    await until(async () => (await d.req('GET', `/api/projects/${witness.id}`)).body.files.some((x) => x.path === 'back.txt'),
      'a read round for the witness');
    assert.ok(!fs.existsSync(path.join(folder, 'after.txt')));
    assert.equal((await files())['late.txt'], undefined);
  } finally {
    await d.cleanup();
  }
});

test('a file edited in the folder and not read yet is never overwritten by a push', async () => {
  const root = fs.realpathSync(tmpDir('agentd-sync-root-'));
  // no read round during the test: only pushes touch the folder
  const d = await startApi({ args: ['--project-sync-roots', root, '--project-sync-interval-ms', '3600000'] });
  try {
    const proj = (await d.req('POST', '/api/projects', { name: 'p' })).body;
    const folder = path.join(root, 'p');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, 'mine.txt'), 'the folder had it first\n');
    await d.req('PUT', `/api/projects/${proj.id}`, {
      files: [{ path: 'a.txt', content: 'one\n' }, { path: 'mine.txt', content: 'the project\'s\n' }],
    });
    assert.equal((await d.req('PUT', `/api/projects/${proj.id}/sync`, { path: folder })).status, 200);
    await until(() => fs.existsSync(path.join(folder, 'a.txt')), 'a.txt in the folder');
    // a file the folder already had is not replaced by the first push
    assert.equal(fs.readFileSync(path.join(folder, 'mine.txt'), 'utf8'), 'the folder had it first\n');
    // an edit in the folder, then a change in the project: the push leaves the edit
    fs.writeFileSync(path.join(folder, 'a.txt'), 'edited in the folder\n');
    await d.req('PATCH', `/api/projects/${proj.id}/files`, { changes: [{ path: 'b.txt', content: 'b' }] });
    await until(() => fs.existsSync(path.join(folder, 'b.txt')), 'b.txt in the folder');
    assert.equal(fs.readFileSync(path.join(folder, 'a.txt'), 'utf8'), 'edited in the folder\n');
    // a file the push wrote itself is the project's to change
    await d.req('PATCH', `/api/projects/${proj.id}/files`, { changes: [{ path: 'b.txt', content: 'b2' }] });
    await until(() => fs.readFileSync(path.join(folder, 'b.txt'), 'utf8') === 'b2', 'b.txt changed by the project');
  } finally {
    await d.cleanup();
  }
});

test('without --project-sync-roots no project may sync', async () => {
  const d = await startApi();
  try {
    const proj = (await d.req('POST', '/api/projects', { name: 'p' })).body;
    const r = await d.req('PUT', `/api/projects/${proj.id}/sync`, { path: fs.realpathSync(tmpDir()) });
    assertError(r, 403, 'FORBIDDEN');
  } finally {
    await d.cleanup();
  }
});
