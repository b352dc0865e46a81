// Prints the gzipped size of what the first page load fetches (the scripts
// and stylesheets index.html references, plus their modulepreloads) and
// fails the build past the budget. Lazily imported chunks (xterm) are not
// counted: the page does not load them until a terminal opens.
import { readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

// bench/README.md, B1: the first load at most 60 KB gzipped (issue #38).
const BUDGET = 60 * 1024;
const dist = process.argv[2] || join(dirname(fileURLToPath(import.meta.url)), '../../build/web/dist');
const html = readFileSync(join(dist, 'index.html'), 'utf8');
const refs = new Set();
for (const m of html.matchAll(/(?:src|href)="\/?(assets\/[^"]+\.(?:js|css))"/g)) refs.add(m[1]);
if (refs.size === 0) {
  console.error('budget: index.html references no assets; is the build broken?');
  process.exit(1);
}
let total = 0;
for (const f of refs) {
  const gz = gzipSync(readFileSync(join(dist, f)), { level: 9 }).length;
  total += gz;
  console.log(`budget: ${f} ${(gz / 1024).toFixed(1)} KB gzipped`);
}
const lazy = readdirSync(join(dist, 'assets')).filter((f) => !refs.has('assets/' + f));
console.log(`budget: initial JS+CSS ${(total / 1024).toFixed(1)} KB gzipped of ${BUDGET / 1024} KB` +
  ` (${lazy.length} lazy files not counted)`);
if (total > BUDGET) {
  console.error('budget: over the initial-load budget');
  process.exit(1);
}
