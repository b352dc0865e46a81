import { describe, expect, it } from 'vitest';
import { runningSub, runShownStatus } from '../src/overview';

describe("Home's cards and runs agree", () => {
  it('an open run of a waiting agent reads as its agent, not as running', () => {
    expect(runShownStatus({ status: 'running' }, { status: 'running' } as any)).toBe('running');
    expect(runShownStatus({ status: 'running' }, { status: 'waiting' } as any)).toBe('turn done');
    expect(runShownStatus({ status: 'running' }, { status: 'waiting', reason: 'approval' } as any)).toBe('waiting');
    expect(runShownStatus({ status: 'running' }, { status: 'stopping' } as any)).toBe('stopping');
    expect(runShownStatus({ status: 'succeeded' }, { status: 'waiting' } as any)).toBe('succeeded');
  });

  it('"Nothing running" only when no run is open', () => {
    expect(runningSub([], 0)).toBe('Nothing running');
    expect(runningSub([], 2)).toMatch(/^None working; 2 open runs wait for you/);
    expect(runningSub([], 1)).toMatch(/1 open run waits/);
    expect(runningSub([{ name: 'a' }, { name: 'b' }], 1)).toBe('a, b');
  });
});
