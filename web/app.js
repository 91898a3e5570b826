// The Sotto PWA's entry point: loads the wasm core from /pkg/ and registers the service worker.
import init, { version, selfTest } from '/pkg/sotto.js';

const status = document.getElementById('status');
const versionEl = document.getElementById('version');

async function start() {
  try {
    await init();
    const fp = selfTest();
    versionEl.textContent = `Sotto ${version()}`;
    status.textContent = `Sotto ${version()} is ready. This browser made a key pair (${fp}…) without sending anything anywhere.`;
    document.body.dataset.ready = 'true';
  } catch (err) {
    status.textContent = `Sotto could not start in this browser: ${err.message ?? err}`;
    document.body.dataset.ready = 'error';
  }
  if ('serviceWorker' in navigator) {
    try {
      await navigator.serviceWorker.register('/web/sw.js', { scope: '/' });
    } catch (err) {
      console.warn('service worker not registered:', err);
    }
  }
}

start();
