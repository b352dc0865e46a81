import { describe, expect, it } from 'vitest';
import { badgeStatus, faviconFor, isUnseen, loadSeen, markSeen, needsYou, needsYouCount, titleFor, turnDone } from '../src/attention';

describe('attention: title and favicon count', () => {
  it('counts the agents that need the user (an approval, a question), not a turn done nor an archived one', () => {
    expect(
      needsYouCount([
        { status: 'waiting', reason: 'approval' },
        { status: 'waiting', reason: 'approval', deletedAt: '2026-11-22T00:00:00Z' },
        { status: 'running' },
        { status: 'waiting', reason: 'question', deletedAt: null },
        { status: 'waiting' }, // a turn done
        { status: 'waiting', reason: null, state: { statusReason: 'approval' } }, // the event's null wins over the stored reason
        { status: 'waiting', state: { statusReason: 'approval' } }, // after a reload: the stored reason
      ]),
    ).toBe(3);
    expect(needsYouCount([])).toBe(0);
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

describe('attention: needs you, turn done, seen', () => {
  const done = { id: 'ag_1', status: 'waiting', reason: null, updatedAt: '2026-11-23T10:00:00.000Z', waitingSince: '2026-11-23T10:00:01.000Z' };
  it('keeps needs you apart from turn done', () => {
    expect(needsYou(done)).toBe(false);
    expect(turnDone(done)).toBe(true);
    expect(badgeStatus(done)).toBe('turn');
    const asks = { ...done, reason: 'approval' };
    expect(needsYou(asks)).toBe(true);
    expect(turnDone(asks)).toBe(false);
    expect(badgeStatus(asks)).toBe('waiting');
    expect(badgeStatus({ ...done, status: 'running' })).toBe('running');
    expect(badgeStatus({ ...done, deletedAt: '2026-11-23T11:00:00.000Z' })).toBe('archived');
  });
  it('a turn done is unseen until opened, and unseen again after the next turn', () => {
    let seen = {};
    expect(isUnseen(done, seen)).toBe(true);
    seen = markSeen(seen, done);
    expect(isUnseen(done, seen)).toBe(false);
    expect(markSeen(seen, done)).toBe(seen); // nothing new: the same marks
    const next = { ...done, waitingSince: '2026-11-23T10:05:00.000Z' };
    expect(isUnseen(next, seen)).toBe(true);
    // a list read after a reload has updatedAt (no event time): seen if it is not newer
    expect(isUnseen({ ...done, waitingSince: undefined, updatedAt: '2026-11-23T10:00:01.000Z' }, seen)).toBe(false);
    expect(isUnseen({ ...done, status: 'running' }, {})).toBe(false);
  });
  it('reads the seen marks from storage, ignoring junk', () => {
    const store = (v: string | null) => ({ getItem: () => v, setItem: () => undefined });
    expect(loadSeen(store('{"ag_1":"2026-11-23T10:00:00.000Z","ag_2":5}'))).toEqual({ ag_1: '2026-11-23T10:00:00.000Z' });
    expect(loadSeen(store('not json'))).toEqual({});
    expect(loadSeen(store('[1]'))).toEqual({});
    expect(loadSeen(store(null))).toEqual({});
  });
});
