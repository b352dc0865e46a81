// The dashboard's service worker (issue #37): it keeps the page's shell (the
// HTML, its script and styles, hashed and immutable) so the dashboard opens
// as an installed app while agentd is down and says so. It caches nothing
// else: /api, the sockets and every other request go to the network as if
// it were not there, so no data of a signed-in user is ever kept.
const SHELL = 'agentd-shell-1';

function isShellAsset(url) {
  return url.pathname.startsWith('/assets/') || ['/theme.js', '/icon.svg', '/manifest.webmanifest'].includes(url.pathname);
}

// The page and what it names, as the daemon serves them now.
async function cacheShell() {
  const cache = await caches.open(SHELL);
  const res = await fetch('/', { cache: 'no-store' });
  if (!res.ok) return;
  const html = await res.clone().text();
  await cache.put('/', res);
  const names = [...html.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1]).filter((p) => isShellAsset(new URL(p, location.origin)));
  await cache.addAll([...new Set(names)]);
}

self.addEventListener('install', (e) => {
  e.waitUntil(cacheShell().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== SHELL).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (e) => {
  const req = e.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== location.origin) return;
  if (req.mode === 'navigate') {
    // the page from the daemon when it answers (and kept for next time), else the kept one
    e.respondWith(
      fetch(req)
        .then((res) => {
          if (res.ok && res.headers.get('content-type')?.startsWith('text/html')) {
            const copy = res.clone();
            caches.open(SHELL).then((c) => c.put('/', copy));
          }
          return res;
        })
        .catch(() => caches.match('/').then((hit) => hit || Response.error())),
    );
    return;
  }
  if (!isShellAsset(url)) return;
  // hashed files never change: the kept copy, else the network's (kept)
  e.respondWith(
    caches.match(req).then(
      (hit) =>
        hit ||
        fetch(req).then((res) => {
          if (res.ok) {
            const copy = res.clone();
            caches.open(SHELL).then((c) => c.put(req, copy));
          }
          return res;
        }),
    ),
  );
});

// ---- Web Push (issue #76, docs/push.md) ----------------------------------
// The daemon's pushes arrive encrypted for this browser's subscription; the
// browser hands the payload over decrypted: {kind, title, body, tag, url,
// agentId?, approvalId?, actionToken?, actions?}. An approval's notification
// has Allow and Deny: they decide it through POST /api/push/actions with the
// action token the push carried (one approval, while it waits, until it
// expires), so a tap on a lock screen needs no session cookie.

// waitUntil throws for an event the page made itself (the browser test's);
// the work goes on all the same.
function keep(e, p) {
  try {
    e.waitUntil(p);
  } catch {
    /* an untrusted event */
  }
  return p;
}

function pushMessage(data) {
  if (!data) return { title: 'agentd', body: '' };
  try {
    return data.json();
  } catch {
    return { title: 'agentd', body: data.text() };
  }
}

function showPush(m) {
  const actions = Array.isArray(m.actions) && m.actionToken ? m.actions.slice(0, 2) : [];
  return self.registration.showNotification(String(m.title || 'agentd'), {
    body: String(m.body || ''),
    tag: m.tag || undefined,
    icon: '/icon.svg',
    badge: '/icon.svg',
    requireInteraction: m.kind === 'approval',
    silent: m.kind === 'approval_decided', // it replaces the approval's, quietly
    actions,
    data: { url: m.url || '/', kind: m.kind, approvalId: m.approvalId, actionToken: m.actionToken },
  });
}

self.addEventListener('push', (e) => {
  keep(e, showPush(pushMessage(e.data)));
});

// Focuses a window of the dashboard on url, or opens one.
async function openPage(url) {
  const wins = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const mine = wins.find((w) => new URL(w.url).origin === location.origin);
  if (mine) {
    await mine.focus();
    if ('navigate' in mine) await mine.navigate(url);
    return;
  }
  await self.clients.openWindow(url);
}

// Allow or Deny from the notification: the answer is a notification too.
async function decide(d, action) {
  let res;
  try {
    res = await fetch('/api/push/actions', {
      method: 'POST',
      credentials: 'omit',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ token: d.actionToken, action }),
    });
  } catch {
    res = null;
  }
  if (res && res.ok) return;
  let why = 'agentd could not be reached.';
  if (res) {
    const body = await res.json().catch(() => null);
    why = (body && body.error && body.error.message) || `agentd answered ${res.status}.`;
  }
  await self.registration.showNotification(action === 'allow' ? 'Not allowed' : 'Not denied', {
    body: `${why} Open agentd to decide.`,
    tag: d.approvalId ? `approval:${d.approvalId}` : undefined,
    icon: '/icon.svg',
    data: { url: d.url || '/' },
  });
}

self.addEventListener('notificationclick', (e) => {
  const d = (e.notification && e.notification.data) || {};
  e.notification.close();
  if ((e.action === 'allow' || e.action === 'deny') && d.actionToken) {
    keep(e, decide(d, e.action));
    return;
  }
  keep(e, openPage(d.url || '/'));
});
