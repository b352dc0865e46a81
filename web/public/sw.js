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
