// Web Push to this device (issue #76, docs/push.md): the dashboard,
// installed as an app, subscribes its service worker with the daemon's
// VAPID key and hands the daemon the browser's own PushSubscription
// ({endpoint, keys: {p256dh, auth}}). The daemon then pushes an approval,
// a turn that needs you, a failed run and a goal met; the service worker
// (public/sw.js) shows them, and an approval's Allow / Deny decide it
// from the notification. Per device and per user: this browser's
// subscription is the signed-in user's.
import { request } from './api';

/** Whether this browser can take pushes here (a service worker, the Push API, a secure page). */
export function pushSupported(): boolean {
  return typeof window !== 'undefined' && window.isSecureContext && 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

/** base64url (the VAPID key's form) to bytes. */
export function fromBase64Url(s: string): Uint8Array<ArrayBuffer> {
  const b = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
  const out = new Uint8Array(new ArrayBuffer(b.length));
  for (let i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
  return out;
}

/** What POST /api/push/subscriptions takes, from a browser's subscription. */
export function subscriptionBody(sub: PushSubscriptionJSON): { endpoint: string; keys: { p256dh: string; auth: string } } {
  if (!sub.endpoint || !sub.keys || !sub.keys.p256dh || !sub.keys.auth) throw new Error('The browser gave a push subscription without its keys.');
  return { endpoint: sub.endpoint, keys: { p256dh: sub.keys.p256dh, auth: sub.keys.auth } };
}

function sameKey(sub: PushSubscription, key: Uint8Array): boolean {
  const k = sub.options && sub.options.applicationServerKey;
  if (!k) return false;
  const have = new Uint8Array(k);
  return have.length === key.length && have.every((v, i) => v === key[i]);
}

/** This browser's subscription, if it has one. */
export async function currentSubscription(): Promise<PushSubscription | null> {
  if (!pushSupported()) return null;
  const reg = await navigator.serviceWorker.ready;
  return reg.pushManager.getSubscription();
}

/** Asks for the permission, subscribes with the daemon's key and stores the subscription there. */
export async function subscribePush(): Promise<void> {
  if (!pushSupported()) throw new Error('This browser cannot take pushes here (it needs HTTPS, or the app installed).');
  const perm = await Notification.requestPermission();
  if (perm !== 'granted') throw new Error('This browser did not allow notifications.');
  const reg = await navigator.serviceWorker.ready;
  const { publicKey } = await request<{ publicKey: string }>('GET', '/api/push/vapid-public-key');
  const key = fromBase64Url(publicKey);
  let sub = await reg.pushManager.getSubscription();
  if (sub && !sameKey(sub, key)) {
    await sub.unsubscribe(); // made with another daemon's key
    sub = null;
  }
  if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  await request('POST', '/api/push/subscriptions', subscriptionBody(sub.toJSON()));
}

/** Forgets this browser's subscription, here and in the daemon. */
export async function unsubscribePush(): Promise<void> {
  const sub = await currentSubscription();
  if (!sub) return;
  try {
    await request('DELETE', '/api/push/subscriptions', { endpoint: sub.endpoint });
  } finally {
    await sub.unsubscribe();
  }
}
