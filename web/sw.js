// Sotto's service worker: keeps the app shell and the wasm so the app opens offline.
// Network first (a deployed update is picked up at once), the cache when offline. SHELL lists
// every module the page imports (web/*.js), the library's worker (pkg/worker.js and the
// sotto-worker.js it starts) and what both import (pkg/rpc.js, pkg/follow.js), so that the app
// opens offline on the first try.
// The app registers it only on a device that keeps a profile (a session used without saving
// leaves no cache), and a new version waits until the person presses Reload in the app's
// "A new version is ready" banner, which posts {type: 'skip-waiting'}.
const CACHE = 'sotto-shell-v7';
const SHELL = [
  '/',
  '/web/app.js',
  '/web/store.js',
  '/web/dom.js',
  '/web/device.js',
  '/web/welcome.js',
  '/web/restore.js',
  '/web/messenger.js',
  '/web/panes.js',
  '/web/chat-list.js',
  '/web/conversation.js',
  '/web/composer.js',
  '/web/timer.js',
  '/web/verify.js',
  '/web/events.js',
  '/web/invitation.js',
  '/web/qr-scanner.js',
  '/web/settings.js',
  '/web/format.js',
  '/web/content.js',
  '/web/style.css',
  '/web/manifest.webmanifest',
  '/web/icon.svg',
  '/pkg/sotto.js',
  '/pkg/worker.js',
  '/pkg/sotto-worker.js',
  '/pkg/rpc.js',
  '/pkg/follow.js',
  '/pkg/sotto_bg.wasm',
];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)));
});

self.addEventListener('message', (event) => {
  if (event.data?.type === 'skip-waiting') self.skipWaiting();
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (url.pathname === '/directory.json' || url.pathname === '/healthz' || url.pathname === '/metrics') return;
  event.respondWith((async () => {
    try {
      const response = await fetch(event.request);
      if (response.ok) {
        const cache = await caches.open(CACHE);
        await cache.put(event.request, response.clone());
      }
      return response;
    } catch (err) {
      const cached = await caches.match(event.request, { ignoreSearch: true })
        ?? (event.request.mode === 'navigate' ? await caches.match('/') : undefined);
      if (cached) return cached;
      throw err;
    }
  })());
});
