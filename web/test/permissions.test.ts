import { describe, expect, it } from 'vitest';
import { extraRules, permissionList } from '../src/ui/Permissions';
import { reduce, emptyModel } from '../src/events';

describe('permission checkboxes', () => {
  it('keeps the words in their order and the typed rules after them', () => {
    expect(permissionList(['execute', 'read'], 'Bash(git:*), WebFetch')).toEqual(['read', 'execute', 'Bash(git:*)', 'WebFetch']);
    expect(permissionList([], ' , ')).toEqual([]);
  });
  it('shows only the rules that are not words in the text field', () => {
    expect(extraRules(['read', 'Bash', 'write', 'Bash(git log *)'])).toBe('Bash, Bash(git log *)');
  });
});

describe('approval events', () => {
  it('bump the agent so its approval card reloads, and ask for attention', () => {
    let m = emptyModel();
    m = { ...m, agents: { ag1: { id: 'ag1', worktreeId: 'wt', name: 'A', status: 'running' } } };
    const r = reduce(m, { seq: 5, type: 'approval_requested', payload: { approval: { id: 'ap1', agentId: 'ag1', toolName: 'Bash' } } } as any);
    expect(r.applied).toBe(true);
    expect(r.model.agents.ag1.approvalsRev).toBe(5);
    expect(r.effects.some((e) => e.kind === 'toast' && /needs approval/.test(e.title))).toBe(true);
    const r2 = reduce(r.model, { seq: 6, type: 'approval_decided', payload: { approval: { id: 'ap1', agentId: 'ag1' } } } as any);
    expect(r2.model.agents.ag1.approvalsRev).toBe(6);
    // its only effect: the request's toast goes (issue #74)
    expect(r2.effects).toEqual([{ kind: 'dismissToast', key: 'approval:ag1:ap1', prefix: false }]);
    // The agent's `waiting` for an approval is not also "waiting for input".
    const r3 = reduce(r2.model, { seq: 7, type: 'agent_status', payload: { agentId: 'ag1', status: 'waiting', reason: 'approval' } } as any);
    expect(r3.effects.some((e) => e.kind === 'toast')).toBe(false);
  });
});
