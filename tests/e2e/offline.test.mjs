// Offline first (issue 15): a saved profile opens with no network, its history readable; a
// message written offline waits in the stored outbox (shown `sending`) and goes out when the
// relays are back, with no reload.
//
// 1. Through the library (pkg/sotto.js): Carol's page closes her profile, her browser goes
//    offline (context.setOffline); she opens it again: `connection` is 'offline', history and
//    contacts are there, `send` rejects RELAY_UNREACHABLE at once with the message's id, and
//    the message is `sending` (also after she opens the profile once more, offline); the
//    network comes back: the browser's `online` event makes her connect at once, a
//    `connection` event says 'online', a `status` event says `sent`, and Dave receives it.
// 2. Through the PWA: Alice's page closes, the whole network stops (the origin and its relays:
//    the app opens from the service worker); she opens her profile: the offline banner (no
//    error), the chat with Bob readable, a new message `sending`; the network starts again on
//    the same ports with the same relays (their data dir kept): the message reaches Bob and
//    shows `sent`, and the banner goes away.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDev, launchBrowser, artifactPath, meetInPwa, directoryTrust } from './harness.mjs';

const HTTP_PORT = 18340;
const WS_BASE = 23000;
let dev;
let browser;
let dataDir;

const startNetwork = () => startDev({ httpPort: HTTP_PORT, wsBasePort: WS_BASE, dataDir });

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'sotto-offline-'));
  dev = await startNetwork();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (dev) assert.equal(await dev.stop(), 0, 'sotto-relay dev exits 0 on SIGTERM');
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const until = async (what, check, timeoutMs = 60_000) => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
};

/// Opens `Sotto` on a page of the app as `window.__me`, recording its events in `window.__log`.
async function openOn(page, options) {
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  const trust = await directoryTrust(page.url());
  await page.evaluate(async ({ options, trust }) => {
    const mod = await import('/pkg/sotto.js');
    await mod.default();
    window.__log = [];
    const me = await mod.Sotto.open({ directoryUrl: `${location.origin}/directory.json`, ...trust, ...options });
    for (const type of ['message', 'status', 'connection', 'error']) {
      me.addEventListener(type, (e) => window.__log.push({ type, at: Date.now(), ...e.detail }));
    }
    window.__me = me;
  }, { options, trust });
}

async function libraryPerson(options) {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(dev.url);
  await openOn(page, options);
  return { context, page, errors, options };
}

const logOf = (p, type) => p.page.evaluate((type) => window.__log.filter((e) => e.type === type), type);
const contactsOf = (p) => p.page.evaluate(() => window.__me.contacts());

test('library: a saved profile opens offline, queues a message and sends it when back online', async () => {
  const carol = await libraryPerson({ storage: 'indexeddb', profile: 'carol', displayName: 'Carol' });
  const dave = await libraryPerson({ storage: 'indexeddb', profile: 'dave', displayName: 'Dave' });
  assert.equal(await carol.page.evaluate(() => window.__me.connection), 'online');
  const link = await carol.page.evaluate(() => window.__me.createInvitation());
  const davesCarol = await dave.page.evaluate((l) => window.__me.acceptInvitation(l), link);
  const carolsDave = await until('Carol has Dave', async () => (await contactsOf(carol)).find((c) => c.displayName === 'Dave'));
  await carol.page.evaluate((id) => window.__me.send(id, 'before, from Carol'), carolsDave.id);
  await dave.page.evaluate((id) => window.__me.send(id, 'before, from Dave'), davesCarol.id);
  await until('Carol has Dave\'s message', async () => (await logOf(carol, 'message')).length >= 1);
  await until('Dave has Carol\'s message', async () => (await logOf(dave, 'message')).length >= 1);

  // Carol closes her profile; her browser goes offline; she opens it again.
  await carol.page.evaluate(() => window.__me.close());
  await carol.context.setOffline(true);
  const opened = Date.now();
  await openOn(carol.page, { storage: 'indexeddb', profile: 'carol' });
  assert.ok(Date.now() - opened < 15_000, 'open does not wait for the network');
  assert.equal(await carol.page.evaluate(() => window.__me.connection), 'offline');
  assert.deepEqual(await contactsOf(carol), [carolsDave], 'contacts readable offline');
  const history = await carol.page.evaluate((id) => window.__me.messages(id), carolsDave.id);
  assert.deepEqual(history.map((m) => m.text), ['before, from Carol', 'before, from Dave'], 'history readable offline');
  assert.equal(await carol.page.evaluate(() => window.__me.displayName), 'Carol', 'settings readable offline');

  // A message written offline: stored in the outbox, `send` settles at once (RELAY_UNREACHABLE,
  // naming the message), and the message is `sending`.
  const rejected = await carol.page.evaluate(async (id) => {
    const t0 = Date.now();
    try {
      await window.__me.send(id, 'written offline');
      return { resolved: true };
    } catch (e) {
      return { code: e.code, messageId: e.messageId, ms: Date.now() - t0 };
    }
  }, carolsDave.id);
  assert.equal(rejected.code, 'RELAY_UNREACHABLE', JSON.stringify(rejected));
  assert.match(rejected.messageId, /^[0-9a-f]{32}$/);
  assert.ok(rejected.ms < 5_000, `send settles at once while offline (${rejected.ms} ms)`);
  const queued = await carol.page.evaluate((id) => window.__me.messages(id), carolsDave.id);
  assert.deepEqual(queued.at(-1), { ...queued.at(-1), id: rejected.messageId, text: 'written offline', status: 'sending' });

  // Still offline some seconds later (back-off attempts fail), and still queued.
  await new Promise((r) => setTimeout(r, 4_000));
  assert.equal(await carol.page.evaluate(() => window.__me.connection), 'offline');

  // She closes and opens the profile again, still offline: the message is still `sending`
  // (the outbox is stored), and this new Sotto reports it when it is sent.
  await carol.page.evaluate(() => window.__me.close());
  await openOn(carol.page, { storage: 'indexeddb', profile: 'carol' });
  assert.equal(await carol.page.evaluate(() => window.__me.connection), 'offline');
  const reopened = await carol.page.evaluate((id) => window.__me.messages(id), carolsDave.id);
  assert.equal(reopened.find((m) => m.id === rejected.messageId)?.status, 'sending');

  // The network is back: the browser's `online` event makes Carol connect at once.
  const back = Date.now();
  await carol.context.setOffline(false);
  const online = await until('Carol is online', async () => (await logOf(carol, 'connection')).find((e) => e.state === 'online'), 30_000);
  assert.ok(online.at - back < 10_000, `reconnected ${online.at - back} ms after the network came back`);
  const sent = await until('Carol\'s queued message is sent', async () => (await logOf(carol, 'status')).find((e) => e.id === rejected.messageId && e.status === 'sent'));
  assert.equal(sent.contactId, carolsDave.id);
  await until('Dave receives it', async () => (await logOf(dave, 'message')).find((m) => m.text === 'written offline'));
  const after = await carol.page.evaluate((id) => window.__me.messages(id), carolsDave.id);
  assert.equal(after.find((m) => m.id === rejected.messageId).status, 'sent');
  assert.deepEqual(carol.errors, []);
  assert.deepEqual(dave.errors, []);
  for (const p of [carol, dave]) {
    await p.page.evaluate(() => window.__me.wipe());
    await p.context.close();
  }
});

test('library: a new profile still needs the network', async () => {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  const page = await context.newPage();
  await page.goto(dev.url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  const trust = await directoryTrust(page.url());
  await context.setOffline(true);
  const code = await page.evaluate(async (trust) => {
    const mod = await import('/pkg/sotto.js');
    await mod.default();
    try {
      await mod.Sotto.open({ storage: 'indexeddb', profile: 'nobody', displayName: 'Nobody', directoryUrl: `${location.origin}/directory.json`, ...trust });
      return 'opened';
    } catch (e) {
      return e.code;
    }
  }, trust);
  assert.equal(code, 'RELAY_UNREACHABLE');
  await context.close();
});

// --- The PWA ---

async function pwaPerson() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const errors = [];
  watch(page, errors);
  await page.goto(dev.url);
  await ready(page);
  return { context, page, errors };
}

function watch(page, errors) {
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
}

const ready = (page) => page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });

async function saveOnDevice(page, name) {
  await page.getByRole('textbox', { name: 'Display name' }).fill(name);
  await page.getByRole('button', { name: 'Save on this device' }).click();
  await page.getByRole('button', { name: 'New chat' }).waitFor({ timeout: 30_000 });
}

async function untilOfflineReady(page) {
  await until('the service worker cached the app shell', () => page.evaluate(async () => !!navigator.serviceWorker.controller
    && !!(await caches.match('/')) && !!(await caches.match('/pkg/sotto_bg.wasm'))), 30_000);
}

const chatButton = (page, name) => page.getByRole('button').filter({ has: page.locator('.chat-name', { hasText: name }) });
const logTexts = (page) => page.getByRole('log').locator('.bubble .text').allTextContents();
const bubble = (page, text) => page.locator('#log .bubble').filter({ has: page.locator('.text', { hasText: text }) });
const banner = (page) => page.getByRole('status').filter({ hasText: 'Offline: Sotto cannot reach its relays.' });

async function say(page, text) {
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill(text);
  await box.press('Enter');
}

test('PWA: the saved profile opens offline, shows it, and sends what was written when back', async () => {
  const alice = await pwaPerson();
  const bob = await pwaPerson();
  await saveOnDevice(alice.page, 'Alice');
  await saveOnDevice(bob.page, 'Bob');
  await meetInPwa(alice, bob);
  await say(alice.page, 'Hi Bob, online');
  await say(bob.page, 'Hi Alice, online');
  await until('both messages on both sides', async () => {
    const [a, b] = [await logTexts(alice.page), await logTexts(bob.page)];
    return ['Hi Bob, online', 'Hi Alice, online'].every((t) => a.includes(t) && b.includes(t));
  });
  await bubble(alice.page, 'Hi Bob, online').and(alice.page.locator('[data-state="sent"]')).waitFor({ timeout: 30_000 });
  await untilOfflineReady(alice.page);
  assert.equal(await banner(alice.page).isVisible(), false, 'no offline banner while online');

  // Alice's page closes; the whole network stops (origin and relays).
  await alice.page.close();
  assert.equal(await dev.stop(), 0);
  dev = null;

  // She opens the app: from the service worker, her profile from IndexedDB, offline.
  alice.page = await alice.context.newPage();
  watch(alice.page, alice.errors);
  await alice.page.goto(`http://127.0.0.1:${HTTP_PORT}/`);
  await ready(alice.page);
  await alice.page.getByRole('button', { name: 'New chat' }).waitFor({ timeout: 30_000 });
  await banner(alice.page).waitFor({ timeout: 10_000 });
  assert.equal(await alice.page.evaluate(() => document.body.dataset.connection), 'offline');
  assert.equal(await alice.page.getByRole('alert').filter({ hasText: 'cannot reach' }).count(), 0, 'no error shown');
  await chatButton(alice.page, 'Bob').click();
  await until('the history, offline', async () => {
    const texts = await logTexts(alice.page);
    return texts.includes('Hi Bob, online') && texts.includes('Hi Alice, online');
  });
  await say(alice.page, 'Written while offline');
  const queued = bubble(alice.page, 'Written while offline');
  await queued.waitFor();
  await new Promise((r) => setTimeout(r, 3_000)); // `send` has settled (RELAY_UNREACHABLE) by now
  assert.equal(await queued.getAttribute('data-state'), 'sending', 'shown as sending, not failed');
  await alice.page.screenshot({ path: artifactPath('pwa-offline-sending.png') });

  // The network starts again (same ports, same relays): no reload anywhere.
  dev = await startNetwork();
  await until('Bob receives the message written offline', async () => (await logTexts(bob.page)).includes('Written while offline'), 90_000);
  await queued.and(alice.page.locator('[data-state="sent"]')).waitFor({ timeout: 30_000 });
  await until('the banner goes away', async () => !(await banner(alice.page).isVisible()), 30_000);
  assert.equal(await alice.page.evaluate(() => document.body.dataset.connection), 'online');

  // What the closed network caused (failed loads and sockets) is all the console says.
  const unexpected = (errors) => errors.filter((e) => !/Failed to load resource|WebSocket connection|ERR_CONNECTION_REFUSED|directory\.json/.test(e));
  assert.deepEqual(unexpected(alice.errors), []);
  assert.deepEqual(unexpected(bob.errors), []);
  await alice.context.close();
  await bob.context.close();
});
