#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Fails when a Markdown file of the repository names a path that does not
// exist, so the docs cannot drift from the tree unnoticed (make doclinks, part
// of make check). Usage: node scripts/doclinks.mjs [FILE.md ...] (default: every
// tracked *.md outside node_modules).
//
// What is checked:
//  - links and images, [text](target): a relative target must exist, resolved
//    from the file's folder; a #fragment must name a heading of the target
//    Markdown file (GitHub's anchors), or of the file itself for (#fragment);
//  - backticked paths, `src/bus/bus.c`: a span of path characters with a "/"
//    whose first segment is a file or folder at the top of the repository
//    (src, docs, web, tests, bench, scripts, tools, ...) must exist from the
//    root; one whose first segment is in the file's own folder (bench/README.md
//    naming `c/linegen.c`) must exist from there.
// What is not (the rule for URLs, globs and example paths):
//  - targets with a scheme (http:, https:, mailto:, ...);
//  - spans with a placeholder or glob character: < > * ? [ ] { } … or "...",
//    and spans with a space, a colon or "=" (commands, URLs, options);
//  - spans whose first segment is not in the repository (build/, ~/.claude,
//    <data-dir>/..., /api/agents): output, the user's files, routes;
//  - paths git ignores (build output such as bench/results/, tests/artifacts/);
//  - fenced code blocks (commands and examples);
//  - a path struck through, ~~`src/agent/runner.c`~~: a file that is gone, named
//    on purpose (a move recorded in docs/DECISIONS.md or docs/internals/).
//
// And the route index: every route the daemon registers
// (ad_server_route*() with a literal path, in src/ outside test-only files)
// has its row in docs/api.md, "| METHOD | `/path` | scope | `file` |", with the
// file that registers it, and every row there is a registered route. WebSocket
// routes have "WebSocket" for their method.
//
// And the settings: every variable the daemon reads, getenv("NAME") with a
// literal name in src/ outside src/cli/ (the client's own), is a row of the
// option table in src/core/config.c (so --help lists it) and is named,
// backticked, in docs/operations.md. Skipped when the tree has no
// src/core/config.c.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

// DOCLINKS_ROOT: another tree to check (the script's own tests).
const root = process.env.DOCLINKS_ROOT || path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

function trackedMarkdown() {
  let out;
  try {
    out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '*.md'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    return walkMarkdown(''); // not a git checkout: every *.md outside build output
  }
  return out
    .split('\0')
    .filter((f) => f && !f.split('/').includes('node_modules') && fs.existsSync(path.join(root, f)));
}

function walkMarkdown(dir) {
  const out = [];
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    if (['.git', 'node_modules', 'build'].includes(e.name)) continue;
    const rel = dir ? `${dir}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...walkMarkdown(rel));
    else if (e.name.endsWith('.md')) out.push(rel);
  }
  return out;
}

// GitHub's heading anchors: lowercase, punctuation dropped, spaces to "-",
// repeats numbered -1, -2, ...
function anchorsOf(file, cache) {
  if (cache.has(file)) return cache.get(file);
  const set = new Set();
  const seen = new Map();
  let fenced = false;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (fenced) continue;
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const text = m[1].replace(/`/g, '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    let slug = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(slug) || 0;
    seen.set(slug, n + 1);
    if (n > 0) slug = `${slug}-${n}`;
    set.add(slug);
  }
  cache.set(file, set);
  return set;
}

const topLevel = new Set(fs.readdirSync(root).filter((n) => n !== '.git' && n !== 'build' && n !== 'node_modules'));

function exists(p) {
  return fs.existsSync(p);
}

// Output the build or a test makes, not a file of the repository.
function ignored(p) {
  try {
    execFileSync('git', ['check-ignore', '-q', '--no-index', path.relative(root, p)], { cwd: root, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function checkFile(rel, anchorCache) {
  const abs = path.join(root, rel);
  const dir = path.dirname(abs);
  const problems = [];
  const lines = fs.readFileSync(abs, 'utf8').split('\n');
  let fenced = false;
  lines.forEach((raw, i) => {
    if (/^\s*(```|~~~)/.test(raw)) {
      fenced = !fenced;
      return;
    }
    if (fenced) return;
    const where = `${rel}:${i + 1}`;
    // links and images; inline code is blanked first so `[x](y)` in code is no link
    const line = raw.replace(/`[^`]*`/g, (s) => ' '.repeat(s.length));
    for (const m of line.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1];
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
      const [p, frag] = target.split('#');
      const file = p === '' ? abs : path.resolve(dir, decodeURI(p));
      if (p !== '' && !exists(file)) {
        problems.push(`${where}: link to ${target}: ${path.relative(root, file)} does not exist`);
        continue;
      }
      if (frag && (p === '' || file.endsWith('.md')) && !anchorsOf(file, anchorCache).has(frag)) {
        problems.push(`${where}: link to ${target}: no heading #${frag} in ${path.relative(root, file)}`);
      }
    }
    // backticked paths, except struck-through ones
    const text = raw.replace(/~~`[^`]*`~~/g, '');
    for (const m of text.matchAll(/`([^`\n]+)`/g)) {
      const span = m[1].replace(/[.,;)]+$/, '').replace(/\/$/, '');
      if (!span.includes('/') || /[<>*?[\]{}…\s:=$~'"]|\.\.\./.test(span) || span.startsWith('/')) continue;
      if (!/^[A-Za-z0-9_.\-\/+@]+$/.test(span)) continue;
      const first = span.split('/')[0];
      let base = null;
      if (topLevel.has(first)) base = root;
      else if (dir !== root && exists(path.join(dir, first))) base = dir;
      if (base === null) continue;
      if (!exists(path.join(base, span)) && !ignored(path.join(base, span))) {
        problems.push(`${where}: names \`${span}\`, which does not exist`);
      }
    }
  });
  return problems;
}

// The routes registered in src/: [{method, path, file}].
function registeredRoutes() {
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(path.join(root, d), { withFileTypes: true })) {
      const rel = `${d}/${e.name}`;
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.c') && !/^test(routes|hooks)\.c$/.test(e.name)) scan(rel);
    }
  };
  const scan = (rel) => {
    const text = fs.readFileSync(path.join(root, rel), 'utf8');
    const re = /\bad_server_route(_ws_shared|_ws|_upgrade)?\s*\(\s*[^,()]+,\s*(?:"([A-Z]+)"\s*,\s*)?"(\/[^"]*)"/g;
    for (const m of text.matchAll(re)) {
      const [, kind, method, p] = m;
      out.push({ method: kind ? 'WebSocket' : method, path: p, file: rel });
    }
  };
  walk('src');
  return out;
}

function checkRoutes() {
  const api = 'docs/api.md';
  const problems = [];
  const rows = new Map();
  fs.readFileSync(path.join(root, api), 'utf8')
    .split('\n')
    .forEach((line, i) => {
      const m = /^\| (WebSocket|[A-Z]+) \| `([^`]+)` \| [^|]+ \| `([^`]+)` \|/.exec(line);
      if (m) rows.set(`${m[1]} ${m[2]}`, { file: m[3], line: i + 1, used: false });
    });
  for (const r of registeredRoutes()) {
    const row = rows.get(`${r.method} ${r.path}`);
    if (!row) {
      problems.push(`${r.file}: ${r.method} ${r.path} is not in the route index of ${api}`);
      continue;
    }
    row.used = true;
    if (row.file !== r.file) problems.push(`${api}:${row.line}: ${r.method} ${r.path} is registered in ${r.file}, not ${row.file}`);
  }
  for (const [k, row] of rows) {
    if (!row.used) problems.push(`${api}:${row.line}: ${k} is no route the daemon registers`);
  }
  return problems;
}

// The variables src/ reads with getenv() outside src/cli/: [{name, file}].
function envReads() {
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(path.join(root, d), { withFileTypes: true })) {
      const rel = `${d}/${e.name}`;
      if (e.isDirectory()) {
        if (rel !== 'src/cli') walk(rel);
      } else if (e.name.endsWith('.c')) {
        const text = fs.readFileSync(path.join(root, rel), 'utf8');
        for (const m of text.matchAll(/\bgetenv\s*\(\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\)/g)) out.push({ name: m[1], file: rel });
      }
    }
  };
  walk('src');
  return out;
}

function checkEnv() {
  const config = 'src/core/config.c';
  const ops = 'docs/operations.md';
  if (!fs.existsSync(path.join(root, config))) return [];
  const text = fs.readFileSync(path.join(root, config), 'utf8');
  // the variables named by the rows of options[]: {"flag" or ENV_ONLY, "NAME", ...
  const block = /options\[\]\s*=\s*\{([\s\S]*?)\n\};/.exec(text)?.[1] ?? '';
  const rows = new Set([...block.matchAll(/\{\s*(?:"[^"]*"|ENV_ONLY)\s*,\s*"([A-Za-z_][A-Za-z0-9_]*)"/g)].map((m) => m[1]));
  const doc = fs.existsSync(path.join(root, ops)) ? fs.readFileSync(path.join(root, ops), 'utf8') : '';
  const problems = [];
  const seen = new Set();
  for (const { name, file } of envReads()) {
    if (seen.has(name)) continue;
    seen.add(name);
    if (!rows.has(name)) problems.push(`${file}: ${name} is read with getenv() but is no row of the option table in ${config} (--help)`);
    if (!doc.includes(`\`${name}\``)) problems.push(`${file}: ${name} is read with getenv() but ${ops} does not name it`);
  }
  return problems;
}

const files = process.argv.length > 2 ? process.argv.slice(2).map((f) => path.relative(root, path.resolve(f))) : trackedMarkdown();
const anchorCache = new Map();
const problems = files.flatMap((f) => checkFile(f, anchorCache));
if (process.argv.length <= 2) problems.push(...checkRoutes(), ...checkEnv());
if (problems.length > 0) {
  for (const p of problems) console.error(p);
  console.error(`doclinks: ${problems.length} problem(s): paths named in Markdown that do not exist, routes docs/api.md does not list, or settings --help and docs/operations.md do not name (rules: scripts/doclinks.mjs)`);
  process.exit(1);
}
console.log(`doclinks: ok (${files.length} Markdown files${process.argv.length <= 2 ? ', the route index, the settings' : ''})`);
