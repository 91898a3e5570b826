// What Sotto keeps in this browser besides the profile: the service worker (offline app shell
// and the "A new version is ready" prompt), its Cache Storage, and the relay directory chosen
// in Settings (localStorage). Only a device that keeps a profile keeps any of it.
import { byId } from '/web/dom.js';

/// localStorage key of the relay directory URL chosen in Settings (saved profiles only).
const DIRECTORY_KEY = 'sotto.directoryUrl';

const el = { update: byId('update'), updateReload: byId('update-reload') };

let reloadOnUpdate = false;

/// Registers the service worker and offers its next version in the update banner.
export async function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return;
  try {
    const reg = await navigator.serviceWorker.register('/web/sw.js', { scope: '/' });
    const offer = (worker) => {
      el.update.hidden = false;
      el.updateReload.onclick = () => {
        reloadOnUpdate = true;
        el.updateReload.disabled = true;
        worker.postMessage({ type: 'skip-waiting' });
      };
    };
    if (reg.waiting && navigator.serviceWorker.controller) offer(reg.waiting);
    reg.addEventListener('updatefound', () => {
      const worker = reg.installing;
      worker?.addEventListener('statechange', () => {
        if (worker.state === 'installed' && navigator.serviceWorker.controller) offer(worker);
      });
    });
  } catch (err) {
    console.warn('service worker not registered:', err);
  }
}

if ('serviceWorker' in navigator) {
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (reloadOnUpdate) location.reload();
  });
}

/// Leaves nothing of Sotto in this browser's storage: no service worker, no Cache Storage, no
/// localStorage. For a device without a saved profile (a kiosk session, a deleted profile).
export async function forgetDevice() {
  try {
    localStorage.removeItem(DIRECTORY_KEY);
    localStorage.removeItem(TRUST_KEY);
  } catch { /* no localStorage */ }
  try {
    for (const reg of await navigator.serviceWorker?.getRegistrations?.() ?? []) await reg.unregister();
  } catch { /* none */ }
  try {
    for (const key of await caches.keys()) await caches.delete(key);
  } catch { /* no Cache Storage */ }
}

/// localStorage key of the directory authorities' keys last read from `/config.json`.
const TRUST_KEY = 'sotto.directoryTrust';

/// The directory authorities this site names, as `Sotto.open` takes them:
/// `{directoryKeys, directoryThreshold}` from the site's `/config.json` (which `sotto-relay dev`
/// serves). With `keep` (a device that saves a profile) they are kept in localStorage, so that
/// the saved profile opens offline with the same keys; a session used without saving leaves
/// nothing behind.
export async function directoryTrust({ keep = true } = {}) {
  try {
    const resp = await fetch('/config.json', { cache: 'no-cache' });
    if (resp.ok) {
      const { directoryKeys, directoryThreshold } = await resp.json();
      const trust = { directoryKeys, directoryThreshold };
      if (keep) {
        try { localStorage.setItem(TRUST_KEY, JSON.stringify(trust)); } catch { /* not kept */ }
      }
      return trust;
    }
  } catch { /* offline: the kept keys */ }
  try { return JSON.parse(localStorage.getItem(TRUST_KEY) ?? '{}'); } catch { return {}; }
}

/// Whether `trust` (from [`directoryTrust`]) names any authority key: without one `Sotto.open`
/// refuses every directory, so the app says so instead of opening.
export const hasTrust = (trust) => Array.isArray(trust?.directoryKeys) && trust.directoryKeys.length > 0;

/// Whether the directory document `doc` (its JSON) carries signatures by at least the threshold
/// of `trust`'s keys. Only a first check, for Settings: the library verifies the signatures
/// themselves when it opens.
export function signedFor(doc, trust) {
  if (!hasTrust(trust) || !Array.isArray(doc?.signatures)) return false;
  const signers = new Set(doc.signatures.map((s) => s?.key));
  const present = trust.directoryKeys.filter((k) => signers.has(k)).length;
  return present >= (trust.directoryThreshold ?? trust.directoryKeys.length);
}

/// This site's own relay directory.
export const defaultDirectoryUrl = () => `${location.origin}/directory.json`;

/// The relay directory chosen in Settings, or '' when none (or no localStorage).
export function storedDirectoryUrl() {
  let url = '';
  try { url = localStorage.getItem(DIRECTORY_KEY) ?? ''; } catch { /* none */ }
  return url;
}

/// The relay directory a saved profile opens with.
export function directoryUrl() {
  return storedDirectoryUrl() || defaultDirectoryUrl();
}

/// Keeps `url` as the relay directory (null: back to this site's own). Throws when
/// localStorage cannot be written.
export function storeDirectoryUrl(url) {
  if (url) localStorage.setItem(DIRECTORY_KEY, url);
  else localStorage.removeItem(DIRECTORY_KEY);
}
