// Pure helpers for the everyday UI (issue #14): a worktree name suggested
// from a task's prompt, the argv of a plain shell, the grid's column count
// and its keyboard moves, and the tail of an agent's output for a tile.

/** A branch-safe worktree name from the first words of a prompt: lower
 * case, [a-z0-9-], at most `max` characters, never empty ("task"). Git's
 * and the API's rules hold: no leading dot or dash, no "..", no trailing
 * dash. */
export function suggestName(prompt: string, max = 40): string {
  const words = prompt
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim()
    .split(' ')
    .filter(Boolean);
  let out = '';
  for (const w of words) {
    const next = out ? `${out}-${w}` : w;
    if (next.length > max) {
      if (!out) out = w.slice(0, max);
      break;
    }
    out = next;
    if (out.split('-').length >= 6) break;
  }
  out = out.replace(/-+$/, '');
  return out || 'task';
}

/** The same name made unique against names already taken: name, name-2, … */
export function uniqueName(name: string, taken: Iterable<string>): string {
  const set = new Set(taken);
  if (!set.has(name)) return name;
  for (let i = 2; i < 1000; i++) if (!set.has(`${name}-${i}`)) return `${name}-${i}`;
  return `${name}-${Date.now().toString(36)}`;
}

/** Valid for POST /api/worktrees: letters, digits, dot, dash, underscore;
 * not starting with a dot. */
export function worktreeNameOk(n: string): boolean {
  return /^[A-Za-z0-9._-]+$/.test(n) && !n.startsWith('.') && n.length <= 100;
}

/** A plain shell as a command agent's argv: the user's login shell
 * ($SHELL in the daemon's environment, which agents inherit) or /bin/sh,
 * interactive, on a terminal. */
export const SHELL_ARGV = ['/bin/sh', '-c', 'exec "${SHELL:-/bin/sh}" -i'];

/** How many grid columns fit a width: 1 on a phone, then 2, 3 or 4. */
export function gridColumns(width: number, count = Infinity): number {
  const c = width < 640 ? 1 : width < 1000 ? 2 : width < 1500 ? 3 : 4;
  return Math.max(1, Math.min(c, count));
}

/** The tile a key moves to from `i` in a grid of n tiles and `cols`
 * columns, or null when the key is not a move. Arrows and h j k l move
 * (j/k also step through the list), Home/End go to the ends. */
export function gridMove(i: number, key: string, cols: number, n: number): number | null {
  if (n <= 0) return null;
  const clamp = (x: number) => Math.max(0, Math.min(n - 1, x));
  switch (key) {
    case 'ArrowRight':
    case 'l':
      return clamp(i + 1);
    case 'ArrowLeft':
    case 'h':
      return clamp(i - 1);
    case 'ArrowDown':
      return i + cols < n ? i + cols : i;
    case 'ArrowUp':
      return i - cols >= 0 ? i - cols : i;
    case 'j':
      return clamp(i + 1);
    case 'k':
      return clamp(i - 1);
    case 'Home':
      return 0;
    case 'End':
      return n - 1;
    default:
      return null;
  }
}

/** The last `lines` non-empty lines of a text, each cut to `width`
 * characters; terminal escapes and carriage returns removed. */
export function tailLines(text: string, lines = 6, width = 200): string[] {
  const clean = text
    // eslint-disable-next-line no-control-regex
    .replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '')
    // eslint-disable-next-line no-control-regex
    .replace(/\x1b[\]P^_][^\x07\x1b]*(\x07|\x1b\\)?/g, '')
    .replace(/\r\n/g, '\n')
    .split('\n')
    .map((l) => {
      const cr = l.lastIndexOf('\r');
      return (cr >= 0 ? l.slice(cr + 1) : l).replace(/\s+$/, '');
    })
    .filter((l) => l.trim() !== '');
  return clean.slice(-lines).map((l) => (l.length > width ? l.slice(0, width - 1) + '…' : l));
}

/** True when a key press belongs to a text field, a terminal or a dialog
 * (page-level keys leave it alone). */
export function typingIn(e: KeyboardEvent): boolean {
  const t = e.target as HTMLElement | null;
  if (!t || typeof t.closest !== 'function') return false;
  return !!t.closest('input, textarea, select, [contenteditable="true"], .term, .modal-back');
}

/** The approval keys (issue #32): y allows, n denies — on a focused
 * approval card and on the grid's selected tile; never with a modifier. */
export function decisionKey(e: Pick<KeyboardEvent, 'key' | 'metaKey' | 'ctrlKey' | 'altKey'>): 'allow' | 'deny' | null {
  if (e.metaKey || e.ctrlKey || e.altKey) return null;
  if (e.key === 'y') return 'allow';
  if (e.key === 'n') return 'deny';
  return null;
}

// Splits a command line on spaces, honouring single and double quotes.
export function splitArgs(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q: string | null = null;
  let any = false;
  for (const ch of s) {
    if (q) {
      if (ch === q) q = null;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      q = ch;
      any = true;
    } else if (/\s/.test(ch)) {
      if (cur || any) out.push(cur);
      cur = '';
      any = false;
    } else cur += ch;
  }
  if (cur || any) out.push(cur);
  return out;
}
