#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Writes the index of docs/DECISIONS.md (the "## Index" section): every
// section with a link, and under it each entry's bold title (or its first
// words), marked "(superseded)" or "(superseded in part)" when the entry
// carries such a mark. Usage: node scripts/decisions-index.mjs [--check]
// (make decisions-index writes it; --check, run by make doclinks, fails when
// the index is not what this script would write).
import fs from 'node:fs';
import path from 'node:path';

const root = process.env.DOCLINKS_ROOT || path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const file = path.join(root, 'docs', 'DECISIONS.md');
const text = fs.readFileSync(file, 'utf8');

const start = text.indexOf('\n## Index\n');
if (start < 0) {
  console.error('decisions-index: docs/DECISIONS.md has no "## Index" section');
  process.exit(1);
}
const after = text.indexOf('\n## ', start + 1);
const before = text.slice(0, start + 1);
const rest = text.slice(after + 1);

// GitHub's anchor for a heading.
const slug = (t) =>
  t
    .replace(/`/g, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

const sections = [];
let entry = null;
for (const line of rest.split('\n')) {
  if (line.startsWith('## ')) {
    sections.push({ name: line.slice(3).trim(), entries: [] });
    entry = null;
    continue;
  }
  const sec = sections.at(-1);
  if (!sec) continue;
  if (line.startsWith('- ')) {
    const m = /^- \*\*(.+?)\*\*/.exec(line);
    let title;
    if (m) title = m[1].replace(/\.$/, '');
    else {
      title = line.slice(2).split(/\s+/).slice(0, 8).join(' ').replace(/[,:;.(]+$/, '') + ' …';
      if ((title.match(/\(/g) || []).length > (title.match(/\)/g) || []).length) title = title.replace('(', '');
      if ((title.match(/`/g) || []).length % 2) title = title.replace(/`/g, '');
    }
    entry = { title, body: '' };
    sec.entries.push(entry);
  }
  if (entry) entry.body += line + '\n';
}

const out = ['## Index', ''];
for (const sec of sections) {
  out.push(`- [${sec.name}](#${slug(sec.name)})`);
  for (const e of sec.entries) {
    // A mark is italic and opens with "Superseded" (a sentence that only
    // talks about marks, like this file's own rule, is not one).
    let mark = '';
    if (/\*[Ss]uperseded by\s/.test(e.body)) mark = ' (superseded)';
    else if (/\*[Ss]uperseded in part/.test(e.body)) mark = ' (superseded in part)';
    if (/\*Superseded by\* \(or \*in part\*\)/.test(e.body)) mark = '';
    out.push(`  - ${e.title}${mark}`);
  }
}
const next = before + out.join('\n') + '\n\n' + rest;

if (process.argv.includes('--check')) {
  if (next !== text) {
    console.error('decisions-index: the index of docs/DECISIONS.md is out of date; run make decisions-index');
    process.exit(1);
  }
  console.log('decisions-index: ok');
} else if (next !== text) {
  fs.writeFileSync(file, next);
  console.log('decisions-index: written');
} else {
  console.log('decisions-index: already up to date');
}
