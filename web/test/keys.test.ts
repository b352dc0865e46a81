import { describe, expect, it } from 'vitest';
import { decisionKey } from '../src/tasks';

const k = (key: string, mods: Partial<Record<'metaKey' | 'ctrlKey' | 'altKey', boolean>> = {}) => ({
  key,
  metaKey: false,
  ctrlKey: false,
  altKey: false,
  ...mods,
});

describe('approval keys', () => {
  it('y allows, n denies; nothing else, and never with a modifier', () => {
    expect(decisionKey(k('y'))).toBe('allow');
    expect(decisionKey(k('n'))).toBe('deny');
    expect(decisionKey(k('Y'))).toBeNull(); // Shift+y is not a yes
    expect(decisionKey(k('a'))).toBeNull();
    expect(decisionKey(k('Enter'))).toBeNull();
    expect(decisionKey(k('n', { ctrlKey: true }))).toBeNull(); // Ctrl+N is the browser's
    expect(decisionKey(k('y', { metaKey: true }))).toBeNull();
    expect(decisionKey(k('y', { altKey: true }))).toBeNull();
  });
});
