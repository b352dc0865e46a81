import { describe, expect, it } from 'vitest';
import { faviconFor, titleFor, waitingCount } from '../src/attention';

describe('attention: title and favicon count', () => {
  it('counts waiting agents that are not archived', () => {
    expect(
      waitingCount([
        { status: 'waiting' },
        { status: 'waiting', deletedAt: '2026-11-22T00:00:00Z' },
        { status: 'running' },
        { status: 'waiting', deletedAt: null },
      ]),
    ).toBe(2);
    expect(waitingCount([])).toBe(0);
  });
  it('puts the count in front of the title, none when nothing waits', () => {
    expect(titleFor(0)).toBe('agentd');
    expect(titleFor(3)).toBe('(3) agentd');
    expect(titleFor(150)).toBe('(99+) agentd');
  });
  it('draws the count on the favicon, and the plain dot for none', () => {
    expect(faviconFor(0)).not.toContain('text');
    expect(decodeURIComponent(faviconFor(4))).toContain('>4</text>');
    expect(decodeURIComponent(faviconFor(12))).toContain('>9+</text>');
    expect(faviconFor(2).startsWith('data:image/svg+xml,')).toBe(true);
  });
});
