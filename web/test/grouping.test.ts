import { describe, expect, it } from 'vitest';
import { groupMessages } from '../src/grouping';
import type { Message } from '../src/types';

let n = 0;
function m(role: string, at: string, extra: Partial<Message> = {}): Message {
  n++;
  return { id: 'msg_' + String(n).padStart(3, '0'), agentId: 'ag_1', role, content: role + n, createdAt: `2026-11-21T${at}.000Z`, ...extra };
}

describe('groupMessages', () => {
  it('starts a group when the speaker changes or after a long pause', () => {
    const rows = groupMessages([
      m('user', '10:00:00'),
      m('assistant', '10:00:01'),
      m('assistant', '10:00:02'),
      m('assistant', '10:20:00'), // 18 minutes later: a new group
      m('user', '10:20:05'),
    ]);
    expect(rows.map((r) => [r.kind, r.first])).toEqual([
      ['message', true],
      ['message', true],
      ['message', false],
      ['message', true],
      ['message', true],
    ]);
  });

  it('pairs a tool call with its result in one row and keeps it in the assistant group', () => {
    const rows = groupMessages([
      m('assistant', '10:00:00'),
      m('tool', '10:00:01', { toolName: 'Bash', toolInput: { command: 'ls' } }),
      m('tool', '10:00:03', { toolName: 'Bash', toolOutput: 'a\nb' }),
      m('tool', '10:00:04', { toolName: 'Read', toolInput: { path: 'x' }, toolOutput: 'done' }),
      m('assistant', '10:00:05'),
    ]);
    expect(rows.map((r) => r.kind)).toEqual(['message', 'tool', 'tool', 'message']);
    const t = rows[1];
    expect(t.kind === 'tool' && t.result?.toolOutput).toBe('a\nb');
    expect(rows.map((r) => r.first)).toEqual([true, false, false, false]);
  });

  it('a call stored with its result is one row; an older call and its result with the same input pair too', () => {
    const rows = groupMessages([
      m('tool', '10:00:01', { toolName: 'Bash', toolInput: { command: 'rm x' }, toolOutput: 'denied', isComplete: true, isError: true }),
      m('tool', '10:00:02', { toolName: 'Bash', toolInput: { command: 'ls' }, isComplete: false }),
      m('tool', '10:00:03', { toolName: 'Bash', toolInput: { command: 'ls' }, toolOutput: 'a', isComplete: true }),
      m('tool', '10:00:04', { toolName: 'Bash', toolInput: { command: 'pwd' }, isComplete: false }),
      m('tool', '10:00:05', { toolName: 'Bash', toolInput: { command: 'whoami' }, toolOutput: 'me', isComplete: true }),
    ]);
    expect(rows.map((r) => (r.kind === 'tool' ? [r.call.toolOutput ?? null, r.result?.toolOutput ?? null] : r.kind))).toEqual([
      ['denied', null],
      [null, 'a'],
      [null, null], // another call's result is not this call's
      ['me', null],
    ]);
  });

  it('does not pair results of a different tool', () => {
    const rows = groupMessages([m('tool', '10:00:01', { toolName: 'Bash', toolInput: 'x' }), m('tool', '10:00:02', { toolName: 'Read', toolOutput: 'y' })]);
    expect(rows).toHaveLength(2);
  });

  it('appends live chunks after the stored messages', () => {
    const rows = groupMessages([m('user', '10:00:00')], [{ runId: 'r', stream: 'assistant', text: 'Hel', open: true, seq: 9, ts: '' }]);
    expect(rows.map((r) => [r.kind, r.key, r.first])).toEqual([
      ['message', rows[0].key, true],
      ['live', 'live-9', true],
    ]);
  });

  it('puts live output between the messages stored before and after it', () => {
    const a = m('user', '10:00:00');
    const b = m('user', '10:00:05');
    const chunk = (seq: number, at: string) => ({ runId: 'r', stream: 'stdout', text: 'out' + seq, open: false, seq, ts: `2026-11-21T${at}.000Z` });
    const rows = groupMessages([a, b], [chunk(1, '10:00:01'), chunk(2, '10:00:02'), chunk(3, '10:00:09')]);
    expect(rows.map((r) => r.key)).toEqual([a.id, 'live-1', 'live-2', b.id, 'live-3']);
    expect(rows.map((r) => r.first)).toEqual([true, true, false, true, true]);
  });

  it('has a unique key per row for 10,000 messages', () => {
    const many: Message[] = [];
    for (let i = 0; i < 10000; i++) many.push(m(i % 3 ? 'assistant' : 'user', '10:00:00'));
    const rows = groupMessages(many);
    expect(new Set(rows.map((r) => r.key)).size).toBe(10000);
  });
});
