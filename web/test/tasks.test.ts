import { describe, expect, it } from 'vitest';
import { gridColumns, gridMove, SHELL_ARGV, suggestName, tailLines, uniqueName, worktreeNameOk } from '../src/tasks';
import { parseFiles } from '../src/ui/WorkspaceSettings';

describe('new task: the worktree name from the prompt', () => {
  it('takes the first words, lower case, dashes, branch-safe', () => {
    expect(suggestName('Fix the login bug!')).toBe('fix-the-login-bug');
    expect(suggestName('  Ajouter un résumé à la page  ')).toBe('ajouter-un-resume-a-la-page');
    expect(suggestName('one two three four five six seven eight')).toBe('one-two-three-four-five-six');
    expect(suggestName('')).toBe('task');
    expect(suggestName('!!! ???')).toBe('task');
    expect(suggestName('.hidden ..dots.. --flags')).toBe('hidden-dots-flags');
    const long = suggestName('a'.repeat(100));
    expect(long.length).toBe(40);
    for (const p of ['Fix the login bug!', '.x', '-y', 'ü', 'a'.repeat(100), 'many words here to make it long enough to cut somewhere']) {
      const n = suggestName(p);
      expect(worktreeNameOk(n)).toBe(true);
      expect(n.length).toBeLessThanOrEqual(40);
      expect(n).not.toMatch(/^-|-$|\.\./);
    }
  });
  it('is made unique against worktrees and branches already there', () => {
    expect(uniqueName('fix', [])).toBe('fix');
    expect(uniqueName('fix', ['fix'])).toBe('fix-2');
    expect(uniqueName('fix', ['fix', 'fix-2', 'fix-3'])).toBe('fix-4');
  });
  it('checks names like the API does', () => {
    expect(worktreeNameOk('feature-x')).toBe(true);
    expect(worktreeNameOk('.hidden')).toBe(false);
    expect(worktreeNameOk('a b')).toBe(false);
    expect(worktreeNameOk('')).toBe(false);
  });
});

describe('shell', () => {
  it('runs $SHELL (or /bin/sh) interactively through /bin/sh', () => {
    expect(SHELL_ARGV[0]).toBe('/bin/sh');
    expect(SHELL_ARGV[2]).toContain('${SHELL:-/bin/sh}');
  });
});

describe('grid', () => {
  it('has 1 to 4 columns by width, never more than tiles', () => {
    expect(gridColumns(400)).toBe(1);
    expect(gridColumns(800)).toBe(2);
    expect(gridColumns(1200)).toBe(3);
    expect(gridColumns(2000)).toBe(4);
    expect(gridColumns(2000, 2)).toBe(2);
    expect(gridColumns(2000, 0)).toBe(1);
  });
  it('moves with arrows and h j k l, stays inside, ignores other keys', () => {
    // 7 tiles in 3 columns: 0 1 2 / 3 4 5 / 6
    expect(gridMove(0, 'ArrowRight', 3, 7)).toBe(1);
    expect(gridMove(0, 'l', 3, 7)).toBe(1);
    expect(gridMove(0, 'ArrowLeft', 3, 7)).toBe(0);
    expect(gridMove(1, 'ArrowDown', 3, 7)).toBe(4);
    expect(gridMove(4, 'ArrowDown', 3, 7)).toBe(4); // no tile below
    expect(gridMove(3, 'ArrowDown', 3, 7)).toBe(6);
    expect(gridMove(4, 'ArrowUp', 3, 7)).toBe(1);
    expect(gridMove(1, 'ArrowUp', 3, 7)).toBe(1);
    expect(gridMove(2, 'j', 3, 7)).toBe(3); // j/k step through the list
    expect(gridMove(3, 'k', 3, 7)).toBe(2);
    expect(gridMove(6, 'j', 3, 7)).toBe(6);
    expect(gridMove(4, 'Home', 3, 7)).toBe(0);
    expect(gridMove(0, 'End', 3, 7)).toBe(6);
    expect(gridMove(0, 'x', 3, 7)).toBe(null);
    expect(gridMove(0, 'ArrowRight', 3, 0)).toBe(null);
  });
  it('shows the last lines of output without terminal escapes', () => {
    expect(tailLines('a\nb\n\nc\nd', 2)).toEqual(['c', 'd']);
    expect(tailLines('\x1b[31mred\x1b[0m\r\nnext\r\n')).toEqual(['red', 'next']);
    expect(tailLines('progress 10%\rprogress 90%\n')).toEqual(['progress 90%']);
    expect(tailLines('\x1b]0;title\x07text')).toEqual(['text']);
    expect(tailLines('x'.repeat(300), 1, 10)).toEqual(['x'.repeat(9) + '…']);
  });
});

describe('workspace setup files', () => {
  it('one path a line (or commas), trimmed, no duplicates', () => {
    expect(parseFiles('.env\n config/local.json \n\n.env, a.txt')).toEqual(['.env', 'config/local.json', 'a.txt']);
    expect(parseFiles('')).toEqual([]);
  });
});
