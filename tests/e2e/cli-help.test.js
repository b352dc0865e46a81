// SPDX-License-Identifier: MIT
// Every option is explained (issue #32, "every option explained in
// --help"): walks the commands `agentd --help` lists; each option a
// command's Usage lines name has a line of its own help explaining it, and
// each option the client's parser takes (the flag tables in src/cli) is
// explained in some command's help.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { run } = require('./lib/daemon');

const CLI_SRC = path.resolve(__dirname, '../../src/cli');
const help = (...args) => run(['--data-dir', '/nonexistent/agentd-help', ...args, '--help']).stdout;

// The commands of `agentd --help`'s Commands section.
function commands() {
  const out = help();
  const from = out.indexOf('Commands:\n');
  const names = new Set();
  for (const line of out.slice(from, out.indexOf('\n\n', from)).split('\n').slice(1)) {
    const m = line.match(/^ {2}([a-z]+)(\s|$)/);
    if (m) names.add(m[1]);
  }
  return [...names].filter((c) => !['help', 'serve', 'version'].includes(c)); // serve: its own long help; version: none
}

// The Usage block: its first line and the lines that go on with it.
function usage(text) {
  const lines = text.split('\n');
  const block = [lines[0]];
  for (const l of lines.slice(1)) {
    if (!/^ {6,}(agentd|\[|-)/.test(l) && !/^ {2}or: /.test(l)) break;
    block.push(l);
  }
  return block.join('\n');
}

const explained = (text, opt) => new RegExp(`^ {2,}(-\\w, )?${opt}(,| |$)`, 'm').test(text);

test('every option a command names is explained in its --help', () => {
  const cmds = commands();
  assert.ok(cmds.length > 20, cmds.join(' '));
  const missing = [];
  for (const c of cmds) {
    const text = help(c);
    assert.match(text, new RegExp(`^Usage: agentd ${c}`), c);
    for (const opt of new Set(usage(text).match(/--[a-z][a-z-]*/g) || [])) {
      if (opt !== '--help' && !explained(text, opt)) missing.push(`${c} ${opt}`);
    }
  }
  assert.deepEqual(missing, [], 'options named in Usage with no line explaining them');
});

test('every option the client parses is explained in some --help', () => {
  const all = commands().map((c) => help(c)).join('\n');
  const src = fs.readdirSync(CLI_SRC).filter((f) => f.endsWith('.c'))
    .map((f) => fs.readFileSync(path.join(CLI_SRC, f), 'utf8')).join('\n');
  const flags = new Set([...src.matchAll(/\{"(--?[a-z][a-z-]*)", (true|false),/g)].map((m) => m[1]));
  assert.ok(flags.has('--until') && flags.has('--allow'), [...flags].join(' '));
  const missing = [...flags].filter((f) => !explained(all, f) && !new RegExp(`, ${f}\\b`).test(all));
  assert.deepEqual(missing, [], 'parsed options that no --help explains');
});
