import { describe, expect, it } from 'vitest';
import { costOrNoPrice, hasPrice } from '../src/prices';

const fmt = (n: number) => '$' + n.toFixed(2);

describe('model prices', () => {
  it('a model is priced by its exact name or the longest prefix*, as the daemon does', () => {
    const p = { 'claude-sonnet-*': { input: 3, output: 15 }, 'gpt-4o': { input: 2.5, output: 10 } };
    expect(hasPrice(p, 'claude-sonnet-4-5')).toBe(true);
    expect(hasPrice(p, 'gpt-4o')).toBe(true);
    expect(hasPrice(p, 'gpt-4o-mini')).toBe(false);
    expect(hasPrice(p, 'claude-opus-4-1')).toBe(false);
    expect(hasPrice({}, 'x')).toBe(false);
    expect(hasPrice(p, '')).toBe(false);
  });

  it('"no price set", not $0.00, for a model with none', () => {
    expect(costOrNoPrice(0, 'claude-opus-4-1', {}, fmt)).toBe('no price set');
    expect(costOrNoPrice(0, 'claude-sonnet-4-5', { 'claude-sonnet-*': { input: 3, output: 15 } }, fmt)).toBe('$0.00');
    expect(costOrNoPrice(0.5, 'x', {}, fmt)).toBe('$0.50'); // a cost counted says so
    expect(costOrNoPrice(0, 'x', null, fmt)).toBe('$0.00'); // prices not read yet: no claim
  });
});
