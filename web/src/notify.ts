// Desktop notifications (issue #32): only for what needs the user (an
// approval, a question), and only once this browser allows them. The
// setting is the daemon's (one for every browser), the permission is this
// browser's: the switch reads on when both are, and turning it on asks the
// browser first, so it is never ticked while the browser would show nothing.

export type Permission = NotificationPermission | 'unsupported';

/** What the switch shows. */
export function notificationsOn(setting: unknown, permission: Permission): boolean {
  return !!setting && permission === 'granted';
}

/** Why the switch is off although the setting is on (or null). */
export function notificationsBlocked(setting: unknown, permission: Permission): string | null {
  if (!setting || permission === 'granted') return null;
  if (permission === 'unsupported') return 'This browser cannot show desktop notifications.';
  if (permission === 'denied') return 'This browser blocks notifications from agentd: allow them in its site settings.';
  return null;
}

/**
 * Turns notifications on or off: on asks the browser's permission first and
 * stores the setting only when granted. Returns the permission after.
 */
export async function switchNotifications(
  on: boolean,
  permission: Permission,
  request: () => Promise<NotificationPermission>,
  save: (on: boolean) => Promise<unknown>,
): Promise<Permission> {
  if (!on) {
    await save(false);
    return permission;
  }
  if (permission === 'unsupported') return permission;
  const p = permission === 'granted' ? permission : await request();
  if (p === 'granted') await save(true);
  return p;
}

/** The permission of this browser, or 'unsupported'. */
export function browserPermission(): Permission {
  return typeof Notification === 'undefined' ? 'unsupported' : Notification.permission;
}
