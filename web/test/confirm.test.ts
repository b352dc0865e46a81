import { describe, expect, it } from 'vitest';
import { ask, question } from '../src/confirm';
import { withLimitConfirm } from '../src/limits';
import { ApiError } from '../src/api';

describe("the app's own question", () => {
  it('answers yes or no once, and a newer question answers the older no', async () => {
    const first = ask({ title: 't', body: 'one?', yes: 'Yes' });
    expect(question.value?.body).toBe('one?');
    const second = ask({ title: 't', body: 'two?', yes: 'Yes' });
    expect(await first).toBe(false);
    question.value!.answer(true);
    expect(await second).toBe(true);
    expect(question.value).toBeNull();
  });

  it('the usage-limit refusal is asked in it (not window.confirm), and no sends nothing', async () => {
    const calls: boolean[] = [];
    const refusing = async (force: boolean) => {
      calls.push(force);
      if (!force) throw new ApiError(429, 'USAGE_LIMIT', 'the daily token limit is reached (5 of 1 tokens); send force: true to go past it', {});
      return 'sent';
    };
    const p = withLimitConfirm(refusing);
    await new Promise((r) => setTimeout(r, 0));
    expect(question.value?.title).toBe('Usage limit reached');
    expect(question.value?.body).toMatch(/daily token limit is reached/);
    question.value!.answer(false);
    expect(await p).toBeNull();
    expect(calls).toEqual([false]);
    const q = withLimitConfirm(refusing);
    await new Promise((r) => setTimeout(r, 0));
    question.value!.answer(true);
    expect(await q).toBe('sent');
    expect(calls).toEqual([false, false, true]);
  });
});
