// What an agent may do without asking: the seed's words as checkboxes
// (read, write, execute: mapped by the daemon to Claude Code's tools) and
// extra rules in Claude Code's own syntax, e.g. Bash(git:*). The daemon
// validates every entry (a 422 names the bad one); the user's other tool
// calls reach them as approvals in the default mode.
import type { JSX } from 'preact';

export const PERMISSION_WORDS: [string, string][] = [
  ['read', 'Read files and search the worktree (Read, Glob, Grep)'],
  ['write', 'Create and edit files without asking (Edit, Write)'],
  ['execute', 'Run shell commands without asking (Bash)'],
];

const WORDS = new Set(PERMISSION_WORDS.map(([w]) => w));

// The entries that are not one of the words, as the text field shows them.
export function extraRules(perms: string[]): string {
  return perms.filter((p) => !WORDS.has(p)).join(', ');
}

// Words checked plus the extra rules typed (comma separated).
export function permissionList(words: string[], extra: string): string[] {
  const rules = extra
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return [...PERMISSION_WORDS.map(([w]) => w).filter((w) => words.includes(w)), ...rules.filter((r) => !words.includes(r))];
}

export function PermissionsField({ value, onChange }: { value: string[]; onChange: (perms: string[]) => void }): JSX.Element {
  const words = value.filter((p) => WORDS.has(p));
  const extra = extraRules(value);
  return (
    <fieldset class="perms">
      <legend>Allowed without asking</legend>
      {PERMISSION_WORDS.map(([w, help]) => (
        <label key={w} class="check">
          <input
            type="checkbox"
            name={`perm-${w}`}
            checked={words.includes(w)}
            onChange={(e) => onChange(permissionList(e.currentTarget.checked ? [...words, w] : words.filter((x) => x !== w), extra))}
          />{' '}
          <strong>{w}</strong> <span class="muted">{help}</span>
        </label>
      ))}
      <label>
        Other rules <span class="muted">(Claude Code syntax, comma separated, e.g. Bash(git:*))</span>
        <input name="permission-rules" value={extra} spellcheck={false} onChange={(e) => onChange(permissionList(words, e.currentTarget.value))} />
      </label>
    </fieldset>
  );
}
