#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Writes the index of the decisions (the "## Index" section of
// docs/internals/README.md): for docs/DECISIONS.md (what is cross-cutting)
// and then each docs/internals/<subsystem>.md, every "## " section with a
// link, and under it each entry's bold title (or its first words), marked
// "(superseded)" or "(superseded in part)" when the entry carries such a
// mark. Usage: node scripts/decisions-index.mjs [--check] (make
// decisions-index writes it; --check, run by make doclinks, fails when the
// index is not what this script would write).
import fs from 'node:fs';
import path from 'node:path';

const root = process.env.DOCLINKS_ROOT || path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const dir = path.join(root, 'docs', 'internals');
const file = path.join(dir, 'README.md');
const text = fs.readFileSync(file, 'utf8');

const start = text.indexOf('\n## Index\n');
if (start < 0) {
  console.error('decisions-index: docs/internals/README.md has no "## Index" section');
  process.exit(1);
}
// The index runs to the next "## " heading or the end of the file.
const nextHeading = text.indexOf('\n## ', start + 1);
const before = text.slice(0, start + 1);
const rest = nextHeading < 0 ? '' : text.slice(nextHeading + 1);

// GitHub's anchor for a heading.
const slug = (t) =>
  t
    .replace(/`/g, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

// The sections of one file and their entries.
function sectionsOf(body) {
  const sections = [];
  let entry = null;
  let fenced = false;
  for (const line of body.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (fenced) continue;
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
  return sections;
}

// docs/DECISIONS.md first, then the subsystems' pages by name.
const sources = [];
const decisions = path.join(root, 'docs', 'DECISIONS.md');
if (fs.existsSync(decisions)) sources.push({ link: '../DECISIONS.md', file: decisions });
for (const n of fs.readdirSync(dir).filter((n) => n.endsWith('.md') && n !== 'README.md').sort()) {
  sources.push({ link: n, file: path.join(dir, n) });
}

const out = ['## Index', ''];
for (const src of sources) {
  const body = fs.readFileSync(src.file, 'utf8');
  const title = /^# (.+)$/m.exec(body)?.[1] ?? src.link;
  out.push(`### [${title}](${src.link})`, '');
  const sections = sectionsOf(body);
  if (sections.length === 0) out.push('No sections yet: the page is its contract.');
  for (const sec of sections) {
    out.push(`- [${sec.name}](${src.link}#${slug(sec.name)})`);
    for (const e of sec.entries) {
      // A mark is italic and opens with "Superseded" (a sentence that only
      // talks about marks, like DECISIONS.md's own rule, is not one).
      let mark = '';
      if (/\*[Ss]uperseded by\s/.test(e.body)) mark = ' (superseded)';
      else if (/\*[Ss]uperseded in part/.test(e.body)) mark = ' (superseded in part)';
      if (/\*Superseded by\* \(or \*in part\*\)/.test(e.body)) mark = '';
      out.push(`  - ${e.title}${mark}`);
    }
  }
  out.push('');
}
const next = before + out.join('\n') + (rest ? '\n' + rest : '');

if (process.argv.includes('--check')) {
  if (next !== text) {
    console.error('decisions-index: the index in docs/internals/README.md is out of date; run make decisions-index');
    process.exit(1);
  }
  console.log('decisions-index: ok');
} else if (next !== text) {
  fs.writeFileSync(file, next);
  console.log('decisions-index: written');
} else {
  console.log('decisions-index: already up to date');
}
