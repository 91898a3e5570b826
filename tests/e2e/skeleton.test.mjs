// The walking skeleton: a dev network serves the PWA, which loads Sotto's wasm (and, on a first
// visit, registers no service worker); /healthz and /directory.json describe the relays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { useNetwork, artifactPath, ROOT } from './harness.mjs';

const cargoVersion = /\nversion = "([^"]+)"/.exec(readFileSync(join(ROOT, 'Cargo.toml'), 'utf8'))[1];

const net = useNetwork({ httpPort: 18080, wsBasePort: 19101 });

test('the page loads the wasm core, shows its version and keeps nothing before a profile is saved', async () => {
  const context = await net.browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(net.url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  assert.equal(await page.textContent('[data-testid=version]'), `Sotto ${cargoVersion}`);
  assert.match(await page.textContent('#status'), /is ready/);
  // The service worker (and its cache) comes only with a profile saved on the device
  // (pwa-profile.test.mjs); a first visit keeps nothing.
  assert.deepEqual(await page.evaluate(async () => ({
    workers: (await navigator.serviceWorker.getRegistrations()).length,
    caches: await caches.keys(),
  })), { workers: 0, caches: [] });
  await page.screenshot({ path: artifactPath('skeleton-desktop.png') });
  assert.deepEqual(errors, []);
  await context.close();
});

test('/healthz lists five relays, each up', async () => {
  const res = await fetch(new URL('/healthz', net.url));
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.relays.length, 5);
  for (const relay of body.relays) assert.equal(relay.up, true, JSON.stringify(relay));
});

test('/directory.json gives each relay a WebSocket URL and a 32-byte Sphinx key', async () => {
  const res = await fetch(new URL('/directory.json', net.url));
  assert.equal(res.status, 200);
  const dir = await res.json();
  assert.equal(dir.relays.length, 5);
  const ids = new Set();
  for (const relay of dir.relays) {
    assert.match(relay.url, /^ws:\/\/127\.0\.0\.1:\d+/);
    assert.equal(Buffer.from(relay.sphinx_key, 'base64url').length, 32);
    assert.equal(Buffer.from(relay.id, 'base64url').length, 32);
    ids.add(relay.id);
  }
  assert.equal(ids.size, 5, 'relay ids are distinct');
});

test('every relay accepts a WebSocket connection from the page', async () => {
  const context = await net.browser.newContext();
  const page = await context.newPage();
  await page.goto(net.url);
  const opened = await page.evaluate(async () => {
    const dir = await (await fetch('/directory.json')).json();
    const results = [];
    for (const relay of dir.relays) {
      results.push(await new Promise((resolve) => {
        const ws = new WebSocket(relay.url);
        ws.onopen = () => { ws.close(); resolve(true); };
        ws.onerror = () => resolve(false);
      }));
    }
    return results;
  });
  assert.deepEqual(opened, [true, true, true, true, true]);
  await context.close();
});
