import { describe, expect, it } from 'vitest';
import { notificationsBlocked, notificationsOn, switchNotifications } from '../src/notify';

describe('desktop notifications', () => {
  it('the switch is on only with the setting and the browser permission', () => {
    expect(notificationsOn(true, 'default')).toBe(false); // the default setting, never asked: off
    expect(notificationsOn(true, 'denied')).toBe(false);
    expect(notificationsOn(true, 'unsupported')).toBe(false);
    expect(notificationsOn(false, 'granted')).toBe(false);
    expect(notificationsOn(true, 'granted')).toBe(true);
    expect(notificationsBlocked(true, 'denied')).toMatch(/blocks/);
    expect(notificationsBlocked(true, 'default')).toBeNull();
  });

  it('turning them on asks the browser first and stores them only when granted', async () => {
    const saved: boolean[] = [];
    const save = async (v: boolean) => void saved.push(v);
    let asked = 0;
    expect(await switchNotifications(true, 'default', async () => (asked++, 'denied'), save)).toBe('denied');
    expect(asked).toBe(1);
    expect(saved).toEqual([]);
    expect(await switchNotifications(true, 'default', async () => (asked++, 'granted'), save)).toBe('granted');
    expect(asked).toBe(2);
    expect(saved).toEqual([true]);
    expect(await switchNotifications(true, 'granted', async () => (asked++, 'granted'), save)).toBe('granted');
    expect(asked).toBe(2); // already granted: not asked again
    expect(await switchNotifications(false, 'granted', async () => 'granted', save)).toBe('granted');
    expect(saved).toEqual([true, true, false]);
  });
});
