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
  assert.match(lines.at(-1), /doclinks: 4 path\(s\) named in Markdown do not exist/);
});

test("the repository's own Markdown passes", () => {
  const r = run();
  assert.equal(r.status, 0, r.stderr);
});
