// SPDX-License-Identifier: MIT
// The manual pages and the shell completion scripts are made from the
// option table and the commands' help (issue #37, "man pages ... generated
// from the option table and the commands' help (never a second copy by
// hand)"): the build writes them under <build>/share, and this test fails
// when they are stale (not what this binary makes now), when an option of
// the option table has no entry with words of its own in agentd(1), when a
// command has no section in its group's page or no place in the bash, zsh
// and fish scripts, or when a page makes groff warn.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { BIN, run } = require('./lib/daemon');

const SHARE = path.join(path.dirname(BIN), 'share');
const MAN = path.join(SHARE, 'man', 'man1');
const SCRIPTS = {
  bash: path.join(SHARE, 'bash-completion', 'completions', 'agentd'),
  zsh: path.join(SHARE, 'zsh', 'vendor-completions', '_agentd'),
  fish: path.join(SHARE, 'fish', 'vendor_completions.d', 'agentd.fish'),
};
const cli = (...args) => {
  const r = run(['--data-dir', '/nonexistent/agentd-docs', ...args]);
  assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

// page name -> the commands it describes
function pages() {
  const out = new Map();
  for (const line of cli('help', '--man-pages').trim().split('\n')) {
    const [page, ...cmds] = line.split(' ');
    out.set(page, cmds);
  }
  return out;
}

// A page as man shows it: plain text, long lines (nothing wrapped).
function render(file) {
  const r = spawnSync('man', ['--warnings', '-l', file], {
    encoding: 'utf8',
    env: { ...process.env, MANWIDTH: '400', LC_ALL: 'C.UTF-8', MAN_KEEP_FORMATTING: '' },
  });
  assert.equal(r.status, 0, r.stderr);
  return { text: r.stdout, warnings: r.stderr };
}

// The option table, as `agentd serve --help` prints it: {flag, env, help}
// (flag null for the variables read where they are used).
function optionTable() {
  const lines = cli('serve', '--help').split('\n');
  const rows = [];
  for (let i = 0; i < lines.length; i++) {
    // an option with no help at all is a row too (and fails below)
    const m = lines[i].match(/^ {2}(--[a-z0-9-]+)(=\S+)?(?:\s+(.*))?$/) || lines[i].match(/^ {2}([A-Z_]+)=\S+(?:\s+(.*))?$/);
    if (!m) continue;
    const env = (lines[i + 1] || '').match(/\[([A-Z_]+)[;\]]/);
    if (m[1].startsWith('--')) rows.push({ flag: m[1], value: m[2] || '', env: env && env[1], help: (m[3] || '').trim() });
    else rows.push({ flag: null, env: m[1], help: (m[2] || '').trim() });
  }
  return rows;
}

const commands = () => {
  const out = cli('--help');
  const from = out.indexOf('Commands:\n');
  const names = new Set();
  for (const line of out.slice(from, out.indexOf('\n\n', from)).split('\n').slice(1)) {
    const m = line.match(/^ {2}([a-z]+)(\s|$)/);
    if (m) names.add(m[1]);
  }
  return [...names];
};

test('what the build wrote under share/ is what this agentd makes now', () => {
  assert.ok(fs.existsSync(MAN), `${MAN}: the build makes it (make ${path.basename(path.dirname(BIN))})`);
  const want = pages();
  assert.deepEqual(fs.readdirSync(MAN).sort(), [...want.keys()].map((p) => `${p}.1`).sort(), 'one file per page');
  for (const page of want.keys()) {
    assert.equal(fs.readFileSync(path.join(MAN, `${page}.1`), 'utf8'), cli('help', '--man', page), `${page}.1 is stale`);
  }
  for (const [shell, file] of Object.entries(SCRIPTS)) {
    assert.equal(fs.readFileSync(file, 'utf8'), cli('completion', shell), `${file} is stale`);
  }
});

test('every option of the option table has its own words in agentd(1)', () => {
  const rows = optionTable();
  assert.ok(rows.filter((r) => r.flag).length > 50, 'the table was read');
  assert.ok(rows.some((r) => !r.flag && r.env === 'AGENTD_LLM_RPM'), 'environment-only rows too');
  const { text, warnings } = render(path.join(MAN, 'agentd.1'));
  assert.equal(warnings, '', 'groff warns');
  const lines = text.split('\n').map((l) => l.trim());
  const missing = [];
  for (const r of rows) {
    const head = r.flag ? `${r.flag}${r.value}` : r.env;
    // man sets a tag shorter than the indent on its help's line (PATH, HOME)
    // (one space when the tag is a column short of it: TMPDIR)
    let at = lines.findIndex((l) => l === head || l.startsWith(`${head}  `));
    if (at < 0) at = lines.findIndex((l) => l.startsWith(`${head} `));
    // (spaces collapsed: man justifies a line that wraps, "where  the  git")
    const words = (at < 0 ? '' : lines[at] === head ? lines[at + 1] || '' : lines[at].slice(head.length).trim())
      .replace(/\s+/g, ' ');
    // the entry, then its help (the help line's own words), then its variable
    if (at < 0 || r.help.length < 10 || !r.help.replace(/\s+/g, ' ').startsWith(words.slice(0, 40))) missing.push(head);
    else if (r.flag && !lines.slice(at + 1, at + 6).some((l) => l.startsWith(`Environment: ${r.env}`))) missing.push(`${head} (${r.env})`);
  }
  assert.deepEqual(missing, [], 'options with no entry, no words or no variable in agentd(1)');
});

test('every command has its section in its group page and its place in each completion script', () => {
  const cmds = commands();
  assert.ok(cmds.includes('service') && cmds.includes('ls'), cmds.join(' '));
  const byPage = pages();
  const paged = [...byPage.values()].flat();
  assert.deepEqual([...paged].sort(), [...cmds].sort(), 'each command on exactly one page');
  assert.equal(new Set(paged).size, paged.length);
  const main = render(path.join(MAN, 'agentd.1')).text;
  const scripts = Object.fromEntries(Object.entries(SCRIPTS).map(([k, f]) => [k, fs.readFileSync(f, 'utf8')]));
  const missing = [];
  for (const [page, list] of byPage) {
    if (page === 'agentd') continue;
    const { text, warnings } = render(path.join(MAN, `${page}.1`));
    if (warnings) missing.push(`${page}: groff: ${warnings}`);
    for (const c of list) {
      if (!new RegExp(`^ {3}agentd ${c}$`, 'm').test(text)) missing.push(`${page}: no section for ${c}`);
      if (!new RegExp(`^ {7}agentd ${c}$`, 'm').test(main)) missing.push(`agentd(1): ${c} not listed`);
      if (!new RegExp(`^ {6}${c}\\) words=`, 'm').test(scripts.bash)) missing.push(`bash: ${c}`);
      if (!scripts.zsh.includes(`    '${c}:`)) missing.push(`zsh: ${c}`);
      if (!scripts.fish.includes(`__fish_use_subcommand -a ${c} -d '`)) missing.push(`fish: ${c}`);
      // every option its help names is in its section and completed after it
      const help = cli(c, '--help');
      const section = text.slice(text.indexOf(`   agentd ${c}\n`)).split(/\n {3}agentd [a-z]+\n/)[0];
      for (const opt of new Set(help.split('\nAGENT, WT and WS')[0].match(/(?<=[\s[|,])--[a-z][a-z-]+/g) || [])) {
        if (opt === '--help' || c === 'serve') continue;
        if (!section.includes(opt)) missing.push(`${page}: ${c} ${opt}`);
        const bashLine = scripts.bash.split('\n').find((l) => l.startsWith(`      ${c}) words=`)) || '';
        if (!bashLine.includes(` ${opt} `) && !bashLine.includes(`"${opt} `)) missing.push(`bash: ${c} ${opt}`);
        if (!scripts.fish.includes(`'__fish_seen_subcommand_from ${c}' -l ${opt.slice(2)}`)) missing.push(`fish: ${c} ${opt}`);
      }
    }
  }
  assert.deepEqual(missing, []);
});

test('fish completes commands, options and the daemon options after serve', (t) => {
  if (spawnSync('fish', ['--version']).status !== 0) {
    t.skip('fish is not installed (scripts/deps.sh installs it)');
    return;
  }
  const complete = (line) => {
    const r = spawnSync('fish', ['--no-config', '-c', `source ${SCRIPTS.fish}; complete -C '${line}'`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    return r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0]);
  };
  assert.deepEqual(complete('agentd lo').sort(), ['login', 'logs']);
  assert.ok(complete('agentd logs --').includes('--until'));
  assert.ok(complete('agentd serve --keep').includes('--keep-agents'));
  assert.deepEqual(complete('agentd service ').sort(), ['install', 'status', 'uninstall', 'units']);
});
