// SPDX-License-Identifier: MIT
// The doc-link check (scripts/doclinks.mjs, `make doclinks`): a Markdown file
// that names a missing repository path fails it, with the file, the line and
// the path; URLs, globs, example paths and ignored output do not.
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');
const script = path.join(root, 'scripts', 'doclinks.mjs');
const fixtures = path.join(root, 'tests', 'fixtures', 'doclinks');

function run(...files) {
  return spawnSync(process.execPath, [script, ...files], { cwd: root, encoding: 'utf8', timeout: 30000 });
}

test('a page whose paths exist passes, examples and URLs are not taken for paths', () => {
  const r = run(path.join(fixtures, 'good.md.txt'));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /doclinks: ok \(1 Markdown files\)/);
});

test('each missing path, heading and anchor is named with its line, and the check fails', () => {
  const r = run(path.join(fixtures, 'bad.md.txt'));
  assert.equal(r.status, 1);
  const lines = r.stderr.trim().split('\n');
  assert.deepEqual(lines.slice(0, -1), [
    'tests/fixtures/doclinks/bad.md.txt:3: link to ../../../docs/nothing.md: docs/nothing.md does not exist',
    'tests/fixtures/doclinks/bad.md.txt:3: link to ../../../CONTRIBUTING.md#no-such-heading: no heading #no-such-heading in CONTRIBUTING.md',
    'tests/fixtures/doclinks/bad.md.txt:4: link to #nowhere: no heading #nowhere in tests/fixtures/doclinks/bad.md.txt',
    'tests/fixtures/doclinks/bad.md.txt:4: names `src/bus/gone.c`, which does not exist',
  ]);
  assert.match(lines.at(-1), /doclinks: 4 problem\(s\)/);
});

test("the repository's own Markdown passes", () => {
  const r = run();
  assert.equal(r.status, 0, r.stderr);
});

test('a route registered in src/ and missing from docs/api.md, a row naming the wrong file and a row for no route each fail', (t) => {
  const fs = require('node:fs');
  const os = require('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doclinks-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'src', 'api'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'docs'));
  fs.writeFileSync(
    path.join(dir, 'src', 'api', 'things.c'),
    'void reg(ad_app_t *app)\n{\n    ad_server_route(app->server, "GET", "/api/things", AD_ACCESS_READ, list, app);\n' +
      '    ad_server_route(app->server, "POST",\n                    "/api/things/:id/poke", AD_ACCESS_WRITE, poke, app);\n' +
      '    ad_server_route_ws(app->server, "/ws/things", AD_ACCESS_READ, protocols, &h, app);\n}\n',
  );
  fs.writeFileSync(path.join(dir, 'src', 'api', 'testroutes.c'), 'ad_server_route(s, "GET", "/test/x", AD_ACCESS_PUBLIC, x, NULL);\n');
  const table = (rows) =>
    '# API\n\n| method | path | scope | file | more in |\n|---|---|---|---|---|\n' + rows.join('\n') + '\n';
  fs.writeFileSync(
    path.join(dir, 'docs', 'api.md'),
    table([
      '| GET | `/api/things` | read | `src/api/things.c` | |',
      '| WebSocket | `/ws/things` | read | `src/api/other.c` | |',
      '| DELETE | `/api/things/:id` | write | `src/api/things.c` | |',
    ]),
  );
  const r = spawnSync(process.execPath, [script], { cwd: dir, encoding: 'utf8', timeout: 30000, env: { ...process.env, DOCLINKS_ROOT: dir } });
  assert.equal(r.status, 1);
  const lines = r.stderr.trim().split('\n');
  assert.deepEqual(lines.slice(0, -1).sort(), [
    'docs/api.md:6: WebSocket /ws/things is registered in src/api/things.c, not src/api/other.c',
    'docs/api.md:6: names `src/api/other.c`, which does not exist',
    'docs/api.md:7: DELETE /api/things/:id is no route the daemon registers',
    'src/api/things.c: POST /api/things/:id/poke is not in the route index of docs/api.md',
  ]);
  // Fixed, it passes (the test-only route needs no row).
  fs.writeFileSync(
    path.join(dir, 'docs', 'api.md'),
    table([
      '| GET | `/api/things` | read | `src/api/things.c` | |',
      '| POST | `/api/things/:id/poke` | write | `src/api/things.c` | |',
      '| WebSocket | `/ws/things` | read | `src/api/things.c` | |',
    ]),
  );
  const ok = spawnSync(process.execPath, [script], { cwd: dir, encoding: 'utf8', timeout: 30000, env: { ...process.env, DOCLINKS_ROOT: dir } });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /the route index/);
});

test('a variable read with getenv() that the option table or docs/operations.md does not name fails', (t) => {
  const fs = require('node:fs');
  const os = require('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doclinks-env-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const d of ['src/core', 'src/run', 'src/cli', 'docs']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.writeFileSync(path.join(dir, 'docs', 'api.md'), '# API\n');
  const config = (rows) => `static const opt_t options[] = {\n${rows}\n};\nconst char *h = getenv("AGENTD_LISTEN");\n`;
  fs.writeFileSync(path.join(dir, 'src', 'core', 'config.c'), config('    {"listen", "AGENTD_LISTEN", T_LISTEN, 0, 0, "HOST:PORT", "x", 0, 0, "x"},'));
  fs.writeFileSync(path.join(dir, 'src', 'run', 'start.c'), 'const char *a = getenv("AGENTD_NEW_KNOB");\n');
  fs.writeFileSync(path.join(dir, 'src', 'cli', 'work.c'), 'const char *b = getenv("AGENTD_OPENER"); /* the client: not the daemon */\n');
  fs.writeFileSync(path.join(dir, 'docs', 'operations.md'), '# Operations\n\n`AGENTD_LISTEN` and flags.\n');
  const env = { ...process.env, DOCLINKS_ROOT: dir };
  const r = spawnSync(process.execPath, [script], { cwd: dir, encoding: 'utf8', timeout: 30000, env });
  assert.equal(r.status, 1);
  assert.deepEqual(r.stderr.trim().split('\n').slice(0, -1), [
    'src/run/start.c: AGENTD_NEW_KNOB is read with getenv() but is no row of the option table in src/core/config.c (--help)',
    'src/run/start.c: AGENTD_NEW_KNOB is read with getenv() but docs/operations.md does not name it',
  ]);
  // A row of the table and a line of the doc, and it passes.
  fs.writeFileSync(
    path.join(dir, 'src', 'core', 'config.c'),
    config('    {"listen", "AGENTD_LISTEN", T_LISTEN, 0, 0, "HOST:PORT", "x", 0, 0, "x"},\n    {ENV_ONLY, "AGENTD_NEW_KNOB", T_ENV, 0, 0, "N", "1", 0, 0, "x"},'),
  );
  fs.writeFileSync(path.join(dir, 'docs', 'operations.md'), '# Operations\n\n`AGENTD_LISTEN`, `AGENTD_NEW_KNOB`.\n');
  const ok = spawnSync(process.execPath, [script], { cwd: dir, encoding: 'utf8', timeout: 30000, env });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /the settings/);
});

test('the index of the decisions is written from DECISIONS.md and docs/internals/, marks included, and checked', (t) => {
  const fs = require('node:fs');
  const os = require('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'decisions-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'docs', 'internals'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'docs', 'DECISIONS.md'), '# Decisions\n\nIntro.\n\n## Boundaries\n- **Layers.** Below only.\n');
  fs.writeFileSync(
    path.join(dir, 'docs', 'internals', 'store.md'),
    '# store\n\nThe contract.\n\n## Storage (src/store)\n' +
      '- **Rows, not files.** Because. *Superseded by\n  [Files](#files-issue-9)*: now files.\n' +
      '- **Two commits.** *Superseded in part by [Files](#files-issue-9).*\n' +
      '- A plain entry without a bold title goes on here\n\n## Files (issue #9)\n- **Files, not rows.** Since.\n',
  );
  fs.writeFileSync(path.join(dir, 'docs', 'internals', 'svc.md'), '# svc\n\nThe contract only.\n');
  const readme = path.join(dir, 'docs', 'internals', 'README.md');
  fs.writeFileSync(readme, '# Internals\n\nPages.\n\n## Index\n\n- [Old](old.md)\n');
  const index = path.join(root, 'scripts', 'decisions-index.mjs');
  const env = { ...process.env, DOCLINKS_ROOT: dir };
  const stale = spawnSync(process.execPath, [index, '--check'], { encoding: 'utf8', env, timeout: 30000 });
  assert.equal(stale.status, 1);
  assert.match(stale.stderr, /out of date; run make decisions-index/);
  const w = spawnSync(process.execPath, [index], { encoding: 'utf8', env, timeout: 30000 });
  assert.equal(w.status, 0, w.stderr);
  assert.equal(
    fs.readFileSync(readme, 'utf8'),
    '# Internals\n\nPages.\n\n## Index\n\n' +
      '### [Decisions](../DECISIONS.md)\n\n- [Boundaries](../DECISIONS.md#boundaries)\n  - Layers\n\n' +
      '### [store](store.md)\n\n- [Storage (src/store)](store.md#storage-srcstore)\n  - Rows, not files (superseded)\n' +
      '  - Two commits (superseded in part)\n  - A plain entry without a bold title goes …\n' +
      '- [Files (issue #9)](store.md#files-issue-9)\n  - Files, not rows\n\n' +
      '### [svc](svc.md)\n\nNo sections yet: the page is its contract.\n',
  );
  const ok = spawnSync(process.execPath, [index, '--check'], { encoding: 'utf8', env, timeout: 30000 });
  assert.equal(ok.status, 0, ok.stderr);
  // A section added to a page makes the index stale again.
  fs.appendFileSync(path.join(dir, 'docs', 'internals', 'svc.md'), '\n## Jobs\n- **One row a job.** Why.\n');
  const again = spawnSync(process.execPath, [index, '--check'], { encoding: 'utf8', env, timeout: 30000 });
  assert.equal(again.status, 1);
});

test('docs/DECISIONS.md keeps only what is cross-cutting, and every folder of src/ has its page in docs/internals/', () => {
  const fs = require('node:fs');
  const lines = fs.readFileSync(path.join(root, 'docs', 'DECISIONS.md'), 'utf8').split('\n').length - 1;
  assert.ok(lines <= 1500, `docs/DECISIONS.md has ${lines} lines; a subsystem's decisions go to docs/internals/<subsystem>.md`);
  const table = fs.readFileSync(path.join(root, 'docs', 'internals', 'README.md'), 'utf8');
  const rows = [...table.matchAll(/^\| \[([a-z]+\.md)\]\(\1\) \| (.+) \|$/gm)];
  for (const [, page] of rows) assert.ok(fs.existsSync(path.join(root, 'docs', 'internals', page)), `docs/internals/${page} exists`);
  const listed = rows.map((r) => r[2]).join(' ');
  for (const d of fs.readdirSync(path.join(root, 'src'), { withFileTypes: true }).filter((e) => e.isDirectory())) {
    assert.ok(listed.includes(`\`src/${d.name}\``), `src/${d.name} has its page in the table of docs/internals/README.md`);
  }
});

test('the README stays a front page: at most 300 lines, make run and make check first, every doc linked', () => {
  const fs = require('node:fs');
  const text = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const lines = text.split('\n');
  assert.ok(lines.length <= 301, `README.md has ${lines.length - 1} lines; move the detail to docs/`);
  const cmds = lines.filter((l) => /^make \w+/.test(l)).slice(0, 2);
  assert.deepEqual(cmds.map((l) => l.split(/\s+/).slice(0, 2).join(' ')), ['make run', 'make check']);
  assert.ok(text.indexOf('make run') < text.indexOf('## '), 'the two commands come before any section');
  for (const f of fs.readdirSync(path.join(root, 'docs')).filter((n) => n.endsWith('.md'))) {
    assert.ok(text.includes(`(docs/${f})`), `README.md links docs/${f}`);
  }
  for (const f of ['CONTRIBUTING.md', 'bench/README.md', 'bench/HISTORY.md', 'docs/internals/README.md']) assert.ok(text.includes(`(${f})`), `README.md links ${f}`);
});
