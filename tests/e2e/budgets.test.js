// SPDX-License-Identifier: MIT
// The size budgets (scripts/budgets.sh, `make budgets`, part of make check): a
// C file over 900 lines, a header over 600 and a function over 100 fail it,
// counted exactly (a function from its signature line to its closing brace)
// for our clang-format style; the allowlist excuses an offender up to the size
// it gives, and a line of it that names no offender fails (it only shrinks).
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');
const script = path.join(root, 'scripts', 'budgets.sh');

function run(dir, allow) {
  const args = [script, dir];
  if (allow !== undefined) {
    fs.writeFileSync(path.join(dir, 'allow'), allow);
    args.push(path.join(dir, 'allow'));
  }
  return spawnSync('sh', args, { cwd: root, encoding: 'utf8', timeout: 30000 });
}

// A function of exactly `lines` lines, its signature on `sig` lines.
function fn(head, lines, sig = 1) {
  const out = [head + (sig > 1 ? '(int a,' : '(void)')];
  for (let i = 2; i <= sig; i++) out.push(i === sig ? '    int z)' : `    int b${i},`);
  out.push('{');
  while (out.length < lines - 1) out.push('    x++;');
  out.push('}');
  assert.equal(out.length, lines);
  return out.join('\n') + '\n';
}

function tree(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'budgets-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'src', 'a'), { recursive: true });
  const c =
    '/* A table is no function: its brace is not alone in column 0. */\n' +
    'static const int table[] = {\n    1,\n};\n\n' +
    fn('static int at_budget', 100) +
    '\n' +
    fn('static int over_budget', 101) +
    '\n' +
    fn('static int long_signature', 101, 3) +
    '\n' +
    fn('__attribute__((format(printf, 1, 2))) static void attributed', 100) +
    '\n' +
    fn('static void (*returns_pointer', 102).replace('(void)\n', '(int k))(void)\n') +
    '\n' +
    fn('int main', 50);
  fs.writeFileSync(path.join(dir, 'src', 'a', 'fns.c'), c);
  const lines = (n) => Array.from({ length: n }, (_, i) => `/* ${i + 1} */`).join('\n') + '\n';
  fs.writeFileSync(path.join(dir, 'src', 'a', 'big.c'), lines(901));
  fs.writeFileSync(path.join(dir, 'src', 'a', 'ok.c'), lines(900));
  fs.writeFileSync(path.join(dir, 'src', 'a', 'big.h'), lines(601));
  fs.writeFileSync(path.join(dir, 'src', 'a', 'ok.h'), lines(600));
  return dir;
}

test('each offender is named with its size and line, and the check fails', (t) => {
  const dir = tree(t);
  const r = run(dir, '');
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const split = ': split it (CONTRIBUTING.md, "Size budgets")';
  assert.deepEqual(lines.slice(0, -1), [
    'budgets: src/a/big.c: 901 lines, over 900' + split,
    'budgets: src/a/big.h: 601 lines, over 600' + split,
    'budgets: src/a/fns.c:107 over_budget(): 101 lines, over 100' + split,
    'budgets: src/a/fns.c:209 long_signature(): 101 lines, over 100' + split,
    'budgets: src/a/fns.c:412 returns_pointer(): 102 lines, over 100' + split,
  ]);
  assert.match(lines.at(-1), /^budgets: 5 over budget, 0 of them allowed in .*, 5 problem\(s\)/);
});

test('the allowlist excuses an offender up to its size, and fails one that grew or left', (t) => {
  const dir = tree(t);
  const allow = (big) =>
    '# comment\n' +
    `src/a/big.c ${big} being split (#79)\n` +
    'src/a/big.h 601 being split\n' +
    'src/a/fns.c:over_budget 101 x\nsrc/a/fns.c:long_signature 101 x\nsrc/a/fns.c:returns_pointer 102 x\n';
  let r = run(dir, allow(901));
  assert.equal(r.status, 0, r.stdout);
  assert.match(r.stdout, /budgets: src\/a\/big\.c: 901 lines, over 900 \(allowed: being split \(#79\)\)/);
  assert.match(r.stdout, /budgets: 5 over budget, 5 of them allowed in .*, 0 problem\(s\)/);

  r = run(dir, allow(900));
  assert.equal(r.status, 1);
  assert.match(r.stdout, /budgets: src\/a\/big\.c: 901 lines, over 900 and over the 900 the allowlist gives it: shrink it/);

  r = run(dir, allow(901) + 'src/a/ok.c 950 was big\n');
  assert.equal(r.status, 1);
  assert.match(r.stdout, /budgets: src\/a\/ok\.c: in .* but within budget now: remove its line/);
});

test("the repository's own tree passes with its allowlist", () => {
  const r = spawnSync('sh', [script], { cwd: root, encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
