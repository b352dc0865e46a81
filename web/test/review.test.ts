import { describe, expect, it } from 'vitest';
import { lineKey, parsePatch, splitRows } from '../src/diffparse';
import { langOf, tokenize } from '../src/highlight';
import { commentOn, conflictMessage, loadComments, reviewMessage, saveComments } from '../src/review';

const PATCH = [
  'diff --git a/src/a.ts b/src/a.ts',
  'index 1111111..2222222 100644',
  '--- a/src/a.ts',
  '+++ b/src/a.ts',
  '@@ -10,4 +10,5 @@ function f() {',
  ' const a = 1;',
  '-const b = 2;',
  '-const c = 3;',
  '+const b = 20;',
  ' return a;',
  '+// new',
  '+done();',
  '\\ No newline at end of file',
  '',
].join('\n');

describe('parsePatch', () => {
  it('numbers old and new lines from the hunk header', () => {
    const ls = parsePatch(PATCH);
    expect(ls.slice(0, 4).every((l) => l.kind === 'meta')).toBe(true);
    expect(ls[4]).toMatchObject({ kind: 'hunk' });
    expect(ls[5]).toEqual({ kind: 'ctx', text: 'const a = 1;', oldNo: 10, newNo: 10 });
    expect(ls[6]).toEqual({ kind: 'del', text: 'const b = 2;', oldNo: 11 });
    expect(ls[7]).toEqual({ kind: 'del', text: 'const c = 3;', oldNo: 12 });
    expect(ls[8]).toEqual({ kind: 'add', text: 'const b = 20;', newNo: 11 });
    expect(ls[9]).toEqual({ kind: 'ctx', text: 'return a;', oldNo: 13, newNo: 12 });
    expect(ls[11]).toEqual({ kind: 'add', text: 'done();', newNo: 14 });
    expect(ls[12].kind).toBe('meta');
    expect(ls.length).toBe(13);
  });

  it('pairs removed runs with the added runs that follow them', () => {
    const rows = splitRows(parsePatch(PATCH));
    const body = rows.filter((r) => !r.full);
    expect(body[0].left).toBe(body[0].right); // context on both sides
    expect(body[1].left?.text).toBe('const b = 2;');
    expect(body[1].right?.text).toBe('const b = 20;');
    expect(body[2].left?.text).toBe('const c = 3;');
    expect(body[2].right).toBeUndefined();
    expect(body[4].left).toBeUndefined();
    expect(body[4].right?.text).toBe('// new');
  });

  it('keys a comment by the new line, or the old one for a removed line', () => {
    const ls = parsePatch(PATCH);
    expect(lineKey('src/a.ts', ls[8])).toBe('src/a.ts:11');
    expect(lineKey('src/a.ts', ls[6])).toBe('src/a.ts:old:11');
  });
});

describe('the review message', () => {
  it('names file:line, quotes the line and keeps file and line order', () => {
    const ls = parsePatch(PATCH);
    const msg = reviewMessage(
      [
        commentOn('src/a.ts', ls[11], 'k1', 'Why call done here?'),
        commentOn('src/a.ts', ls[8], 'k2', ' Keep b at 2. '),
        commentOn('src/a.ts', ls[7], 'k3', 'This was still used.'),
        commentOn('README.md', { kind: 'add', text: '', newNo: 3 }, 'k4', 'Document it'),
        commentOn('src/a.ts', ls[5], 'k5', '   '),
      ],
      'main',
    );
    expect(msg).toBe(
      'Review comments on your changes (the diff against main). Please address each one:\n\n' +
        'README.md:3\n>\nDocument it\n\n' +
        'src/a.ts:11\n> const b = 20;\nKeep b at 2.\n\n' +
        'src/a.ts:12 (a removed line)\n> const c = 3;\nThis was still used.\n\n' +
        'src/a.ts:14\n> done();\nWhy call done here?',
    );
  });

  it('asks the agent to fix a conflict, naming the files', () => {
    const m = conflictMessage('feat', 'main', ['a.txt', 'src/b.c']);
    expect(m).toContain('Merging feat into main conflicts in:\n- a.txt\n- src/b.c\n');
    expect(m).toMatch(/resolve these conflicts/);
    expect(conflictMessage('feat', 'main', [], 'Rebase')).toMatch(/^Rebasing feat onto main conflicts in:\n- \(git did not name the files\)/);
  });
});

describe('tokenize', () => {
  const join = (ts: { text: string }[]) => ts.map((t) => t.text).join('');
  it('colours keywords, strings, numbers and comments, and keeps the text', () => {
    const line = 'const x = "a // b" + 42; // done';
    const ts = tokenize(line, langOf('web/x.tsx'));
    expect(join(ts)).toBe(line);
    expect(ts.filter((t) => t.cls).map((t) => [t.cls, t.text])).toEqual([
      ['kw', 'const'],
      ['str', '"a // b"'],
      ['num', '42'],
      ['com', '// done'],
    ]);
  });
  it('knows languages by extension, and leaves others plain', () => {
    expect(langOf('src/api/pr.c')).toBe('c');
    expect(langOf('x.py')).toBe('py');
    expect(langOf('Makefile')).toBe('sh');
    expect(langOf('notes.txt')).toBeNull();
    expect(tokenize('if x: return', null)).toEqual([{ text: 'if x: return' }]);
    expect(tokenize('def f(): # hi', 'py').map((t) => t.cls)).toEqual(['kw', undefined, 'com']);
    expect(tokenize('var1 = 2', 'js').map((t) => t.cls)).toEqual([undefined, 'num']);
  });
});

describe('links from a forge', () => {
  it('are links only when http or https', async () => {
    const { safeUrl } = await import('../src/ui/DiffDialogs');
    expect(safeUrl('https://github.com/a/b/pull/1')).toBe('https://github.com/a/b/pull/1');
    expect(safeUrl('http://127.0.0.1:3000/x')).toBe('http://127.0.0.1:3000/x');
    expect(safeUrl('javascript:alert(1)')).toBeUndefined();
    expect(safeUrl(' JAVASCRIPT:alert(1)')).toBeUndefined();
    expect(safeUrl('data:text/html,x')).toBeUndefined();
    expect(safeUrl(undefined)).toBeUndefined();
  });
});

describe('unsent comments', () => {
  const mem = () => {
    const m = new Map<string, string>();
    return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), removeItem: (k: string) => void m.delete(k), m };
  };
  it('are kept per worktree and dropped once none is left', () => {
    const st = mem();
    const c = commentOn('a.ts', { kind: 'add', text: 'x', newNo: 3 }, 'a.ts:3', 'fix');
    saveComments('wt_1', { 'a.ts:3': c }, st);
    expect(loadComments('wt_1', st)).toEqual({ 'a.ts:3': c });
    expect(loadComments('wt_2', st)).toEqual({});
    saveComments('wt_1', {}, st);
    expect(st.m.size).toBe(0);
  });
  it('survive a damaged store as nothing', () => {
    const st = mem();
    st.setItem('agentd.review.wt_1', '{not json');
    expect(loadComments('wt_1', st)).toEqual({});
    st.setItem('agentd.review.wt_1', JSON.stringify({ k: { path: 'a', text: 1, line: 'x' }, j: { path: 'b', text: 'ok', line: 2 } }));
    expect(Object.keys(loadComments('wt_1', st))).toEqual(['j']);
  });
});
