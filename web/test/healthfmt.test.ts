import { describe, expect, it } from 'vitest';
import { fmtBytes, fmtNum, sparkPath } from '../src/healthfmt';
import { parseRoute } from '../src/router';

describe('health page helpers', () => {
  it('formats bytes in binary units and leaves unknowns as a dash', () => {
    expect(fmtBytes(0)).toBe('0 B');
    expect(fmtBytes(1536)).toBe('1.5 KiB');
    expect(fmtBytes(24 * 2 ** 30)).toBe('24.0 GiB');
    expect(fmtBytes(null)).toBe('–');
    expect(fmtNum(NaN)).toBe('–');
    expect(fmtNum(85.26, 1)).toBe('85.3');
  });
  it('draws a sparkline with gaps where readings are missing', () => {
    expect(sparkPath([0, 50, 100], 100)).toBe('M0.00 30.00L50.00 15.00L100.00 0.00');
    expect(sparkPath([10, null, 10], 10)).toBe('M0.00 0.00M100.00 0.00');
    expect(sparkPath([200], 100)).toBe('M100.00 0.00'); // clamped to the box
    expect(sparkPath([], 1)).toBe('');
    expect(sparkPath([null, null], 1)).toBe('');
    // with times: placed in the range, not spread over it
    expect(sparkPath([5, 5], 10, [900, 1000], 0, 1000)).toBe('M90.00 15.00L100.00 15.00');
  });
  it('routes #/health to the Health page', () => {
    expect(parseRoute('#/health')).toEqual({ page: 'health' });
  });
});

describe('uptime', () => {
  it('reads as a duration from the start; a stopped service has none', async () => {
    const { fmtUptime } = await import('../src/healthfmt');
    const now = 1_000_000_000;
    expect(fmtUptime(null, now)).toBe('–');
    expect(fmtUptime(now - 42_000, now)).toBe('42 s');
    expect(fmtUptime(now - 5 * 60_000, now)).toBe('5 min');
    expect(fmtUptime(now - (3 * 3600 + 12 * 60) * 1000, now)).toBe('3 h 12 min');
    expect(fmtUptime(now - (2 * 86400 + 4 * 3600) * 1000, now)).toBe('2 d 4 h');
    expect(fmtUptime(now + 5000, now)).toBe('0 s'); // a clock a little ahead
  });
});
