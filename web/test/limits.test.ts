import { describe, expect, it } from 'vitest';
import { ApiError } from '../src/api';
import { limitNotice, withLimitConfirm } from '../src/limits';

const none = { tokenLimit: 0, tokensUsed: 5, tokensRemaining: null, costLimitUsd: 0, costUsedUsd: 0, costRemainingUsd: null, exceeded: false };

describe('usage limits in the UI', () => {
  it('says nothing below 90 %, warns from 90 %, and says when a limit is reached', () => {
    expect(limitNotice(null)).toBeNull();
    expect(limitNotice({ daily: { ...none, tokenLimit: 1000, tokensUsed: 899 }, monthly: none })).toBeNull();
    const warn = limitNotice({ daily: { ...none, tokenLimit: 1000, tokensUsed: 950 }, monthly: none });
    expect(warn?.level).toBe('warn');
    expect(warn?.text).toContain('95 % of the daily usage limit');
    const over = limitNotice({ daily: none, monthly: { ...none, costLimitUsd: 10, costUsedUsd: 12.5, exceeded: true } });
    expect(over?.level).toBe('over');
    expect(over?.text).toContain('monthly usage limit is reached ($12.50 of $10.00)');
  });

  it('tries again with force only for a usage-limit refusal the user agrees to', async () => {
    const calls: boolean[] = [];
    const refusing = async (force: boolean) => {
      calls.push(force);
      if (!force) throw new ApiError(429, 'USAGE_LIMIT', 'the daily token limit is reached (5 of 1 tokens); send force: true to go past it', {});
      return 'sent';
    };
    let asked = '';
    expect(await withLimitConfirm(refusing, (m) => ((asked = m), true))).toBe('sent');
    expect(calls).toEqual([false, true]);
    expect(asked).toContain('the daily token limit is reached (5 of 1 tokens).');
    expect(asked).not.toContain('force');
    calls.length = 0;
    expect(await withLimitConfirm(refusing, () => false)).toBeNull();
    expect(calls).toEqual([false]);
    await expect(
      withLimitConfirm(
        async () => {
          throw new ApiError(429, 'RATE_LIMITED', 'slow down', {});
        },
        () => true,
      ),
    ).rejects.toThrow('slow down');
  });
});
