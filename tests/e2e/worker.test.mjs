// The library in a dedicated Web Worker (issue 15, "Off the main thread"): the package runs
// where there is no `window` (IndexedDB, Web Locks, WebSocket, fetch, OffscreenCanvas), both
// imported by a plain module worker and through pkg/worker.js's `openInWorker`, which a page
// drives like `Sotto` (same methods, same events). The peer is an ordinary page.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ROOT, acquaint, call, digestIn, directoryTrust, openPage, person, untilContacts, untilReceived, useNetwork,
} from './harness.mjs';

/// A plain module worker of the site's own (the CSP admits no `blob:` worker): it imports the
/// package, opens a saved profile, makes an invitation and answers a `ping`.
const PLAIN_WORKER = `
import init, { Sotto } from '/pkg/sotto.js';
await init();
const trust = await (await fetch('/config.json')).json();
const me = await Sotto.open({ ...trust, storage: 'indexeddb', profile: 'plain', displayName: 'Wendy' });
me.addEventListener('contact', (e) => postMessage({ contact: e.detail.displayName }));
me.addEventListener('message', async (e) => {
  postMessage({ message: e.detail.text });
  if (e.detail.text === 'ping') await me.send(e.detail.contactId, 'pong from a worker');
});
postMessage({ link: await me.createInvitation(), hasWindow: typeof window !== 'undefined',
  locks: typeof navigator.locks?.request, connection: me.connection });
`;

/// The package's worker, which dies (an uncaught error) once asked for a security code.
const DYING_WORKER = `
import '/pkg/sotto-worker.js';
self.addEventListener('message', ({ data }) => {
  if (data.method === 'securityCode') setTimeout(() => { throw new Error('boom'); });
});
`;

const webRoot = mkdtempSync(join(tmpdir(), 'sotto-web-'));
for (const part of ['index.html', 'web', 'pkg']) {
  cpSync(join(ROOT, part), join(webRoot, part), { recursive: true });
}
writeFileSync(join(webRoot, 'web', 'plain-worker.test.js'), PLAIN_WORKER);
writeFileSync(join(webRoot, 'pkg', 'dying-worker.test.js'), DYING_WORKER);
const net = useNetwork({ httpPort: 18420, wsBasePort: 27000, webRoot });
after(() => rmSync(webRoot, { recursive: true, force: true }));

/// Like the harness's `openSotto`, through `openInWorker`: `window.__me` is a `SottoInWorker`,
/// and its events are collected the same way.
async function openSottoInWorker(page, options) {
  const trust = await directoryTrust(page.url());
  return page.evaluate(async ({ options, trust }) => {
    const { openInWorker } = await import('/pkg/worker.js');
    window.__received = [];
    window.__errors = [];
    window.__contactEvents = [];
    window.__events = [];
    try {
      const me = await openInWorker({ directoryUrl: `${location.origin}/directory.json`, ...trust, ...options });
      me.addEventListener('message', (e) => window.__received.push(e.detail));
      me.addEventListener('error', (e) => window.__errors.push({ what: e.detail.what, code: e.detail.code }));
      me.addEventListener('contact', (e) => window.__contactEvents.push(e.detail));
      for (const type of ['status', 'progress', 'attachment', 'expired', 'connection']) {
        me.addEventListener(type, (e) => window.__events.push({ type, ...e.detail }));
      }
      window.__me = me;
      return { ok: true, connection: me.connection, displayName: me.displayName, isTarget: me instanceof EventTarget };
    } catch (e) {
      window.__me = null;
      return { name: e.name, code: e.code, message: e.message };
    }
  }, { options, trust });
}

/// A person whose Sotto runs in a worker of their page.
async function workerPerson(options) {
  const context = await net.browser.newContext({ serviceWorkers: 'block' });
  const errors = [];
  const page = await openPage(net, context, errors);
  const opened = await openSottoInWorker(page, options);
  assert.equal(opened.ok, true, JSON.stringify(opened));
  return { context, page, errors, opened };
}

test('a plain module worker imports the package: IndexedDB, a lock, an invitation a page accepts, messages', async () => {
  const context = await net.browser.newContext({ serviceWorkers: 'block' });
  const errors = [];
  const page = await openPage(net, context, errors);
  // The worker runs its own script (its directory: the default, at its origin): no window,
  // no proxy.
  const link = await page.evaluate(() => {
    window.__worker = new Worker('/web/plain-worker.test.js', { type: 'module' });
    window.__fromWorker = [];
    return new Promise((resolve, reject) => {
      window.__worker.addEventListener('error', (e) => reject(new Error(`worker error: ${e.message}`)));
      window.__worker.addEventListener('message', ({ data }) => {
        window.__fromWorker.push(data);
        if (data.link) resolve(data);
      });
    });
  });
  assert.equal(link.hasWindow, false, 'the script ran in a worker');
  assert.equal(link.locks, 'function', 'Web Locks in the worker');
  assert.equal(link.connection, 'online');
  assert.match(link.link, /#\/invite\//);

  const bob = await person(net, { displayName: 'Bob' });
  const accepted = await call(bob.page, 'acceptInvitation', [link.link]);
  assert.ok(accepted.value, JSON.stringify(accepted));
  const [bobsWendy] = await untilContacts(bob.page, (cs) => cs.length === 1 && cs[0].displayName === 'Wendy');
  await call(bob.page, 'send', [bobsWendy.id, 'ping']);
  await untilReceived(bob.page, ['pong from a worker']);
  const heard = await page.evaluate(() => window.__fromWorker.filter((d) => d.message || d.contact));
  assert.deepEqual(heard.filter((d) => d.message), [{ message: 'ping' }]);
  assert.ok(heard.some((d) => d.contact === 'Bob'), JSON.stringify(heard));
  await page.evaluate(() => window.__worker.terminate());
  assert.deepEqual(errors, []);
  assert.deepEqual(bob.errors, []);
  await context.close();
  await bob.context.close();
});

test('openInWorker: the same methods and events as Sotto; messages both ways in order, files, errors, a reopen reads history', async () => {
  const alice = await workerPerson({ storage: 'indexeddb', profile: 'alice', displayName: 'Alice' });
  assert.deepEqual(alice.opened, { ok: true, connection: 'online', displayName: 'Alice', isTarget: true });
  const bob = await person(net, { displayName: 'Bob' });
  const { alicesBob, bobsAlice } = await acquaint(alice, bob);
  assert.equal(alicesBob.displayName, 'Bob');
  assert.equal(bobsAlice.displayName, 'Alice');

  // The profile's lock is held by the worker: a second worker cannot open it.
  const second = await alice.page.evaluate(async () => {
    const { openInWorker } = await import('/pkg/worker.js');
    try {
      await openInWorker({ ...(await (await fetch('/config.json')).json()), storage: 'indexeddb', profile: 'alice' });
      return 'opened';
    } catch (e) {
      return { name: e.name, code: e.code };
    }
  });
  assert.deepEqual(second, { name: 'SottoError', code: 'PROFILE_IN_USE' });

  for (const text of ['a1', 'a2', 'a3']) assert.ok((await call(alice.page, 'send', [alicesBob.id, text])).value);
  for (const text of ['b1', 'b2']) assert.ok((await call(bob.page, 'send', [bobsAlice.id, text])).value);
  await untilReceived(bob.page, ['a1', 'a2', 'a3']);
  await untilReceived(alice.page, ['b1', 'b2']);
  const statuses = await alice.page.evaluate(() => window.__events.filter((e) => e.type === 'status').length);
  assert.ok(statuses >= 3, 'status events cross from the worker');

  // A SottoError crosses with its code.
  const unknown = await call(alice.page, 'send', ['424242', 'nobody']);
  assert.equal(unknown.error?.name, 'SottoError');
  assert.equal(unknown.error?.code, 'UNKNOWN_CONTACT');
  // Arguments the structured clone refuses reject at once (nothing reaches the worker), and
  // the instance goes on working.
  const uncloneable = await alice.page.evaluate(async (id) => {
    try {
      await window.__me.send(id, { toString() { return 'a function inside' } });
      return 'sent';
    } catch (e) {
      return { name: e.name, code: e.code };
    }
  }, alicesBob.id);
  assert.deepEqual(uncloneable, { name: 'SottoError', code: 'INVALID_ARGUMENT' });
  // Arguments are copied, never transferred: a buffer passed to a call (even one that
  // rejects) stays whole for its owner.
  const kept = await alice.page.evaluate(async (id) => {
    const buffer = new Uint8Array([1, 2, 3, 4]).buffer;
    await window.__me.sendFile(id, buffer).catch(() => {});
    return buffer.byteLength;
  }, alicesBob.id);
  assert.equal(kept, 4);
  assert.equal((await call(alice.page, 'contacts')).value.length, 1);

  // A file from the worker (encrypted there) arrives with identical bytes, with progress.
  const sentDigest = await digestIn(alice.page, `() => {
    const data = new Uint8Array(300 * 1024);
    let x = 777;
    for (let i = 0; i < data.length; i++) { x = (x * 1103515245 + 12345) >>> 0; data[i] = x >>> 24; }
    window.__file = new File([data], 'w.bin', { type: 'application/octet-stream' });
    return data;
  }`);
  const sent = await alice.page.evaluate((id) => window.__me.sendFile(id, window.__file), alicesBob.id);
  assert.match(sent.id, /^[0-9a-f]{32}$/);
  const uploads = await alice.page.evaluate(
    (id) => window.__events.filter((e) => e.type === 'progress' && e.id === id), sent.id);
  assert.ok(uploads.length >= 1 && uploads.at(-1).done === uploads.at(-1).total, JSON.stringify(uploads));
  await bob.page.waitForFunction((id) => window.__events.some((e) => e.type === 'attachment' && e.id === id),
    sent.id, { timeout: 120_000, polling: 250 });
  assert.equal(await digestIn(bob.page, '(id) => window.__me.attachment(id)', sent.id), sentDigest);

  // A picture from the page: the worker decrypts it and makes its preview (OffscreenCanvas).
  const picture = await bob.page.evaluate(async (id) => {
    const canvas = new OffscreenCanvas(400, 300);
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#36c'; ctx.fillRect(0, 0, 400, 300);
    const blob = await canvas.convertToBlob({ type: 'image/png' });
    window.__pictureDigest = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer())),
      (b) => b.toString(16).padStart(2, '0')).join('');
    return window.__me.sendFile(id, blob, { name: 'blue.png' });
  }, bobsAlice.id);
  await alice.page.waitForFunction((id) => window.__events.some((e) => e.type === 'attachment' && e.id === id),
    picture.id, { timeout: 60_000, polling: 250 });
  const pic = await alice.page.evaluate(async (id) => {
    const [m] = await window.__me.messages(window.__received.find((r) => r.id === id).contactId, { limit: 1 });
    return { name: m.attachment.name, ready: m.attachment.ready, jpeg: Array.from(m.attachment.thumbnail.slice(0, 3)) };
  }, picture.id);
  assert.deepEqual(pic, { name: 'blue.png', ready: true, jpeg: [0xff, 0xd8, 0xff] });
  assert.equal(await digestIn(alice.page, '(id) => window.__me.attachment(id)', picture.id),
    await bob.page.evaluate(() => window.__pictureDigest));
  const backup = await alice.page.evaluate(async () => {
    const b = await window.__me.exportBackup();
    return { isBytes: b instanceof Uint8Array, size: b.length };
  });
  assert.equal(backup.isBytes, true);
  assert.ok(backup.size > 0);

  // Closing stops the worker; a new one reads the history back, and traffic goes on.
  await alice.page.evaluate(() => window.__me.close());
  const closed = await call(alice.page, 'contacts');
  assert.equal(closed.error?.code, 'CLOSED');
  const reopened = await openSottoInWorker(alice.page, { storage: 'indexeddb', profile: 'alice' });
  assert.equal(reopened.ok, true, JSON.stringify(reopened));
  assert.equal(reopened.displayName, 'Alice');
  const history = await alice.page.evaluate((id) => window.__me.messages(id), alicesBob.id);
  assert.deepEqual(history.filter((m) => !m.attachment).map((m) => m.text), ['a1', 'a2', 'a3', 'b1', 'b2']);
  assert.equal(history.length, 7);
  await call(bob.page, 'send', [bobsAlice.id, 'after the reopen']);
  await untilReceived(alice.page, ['after the reopen']);

  assert.deepEqual(await alice.page.evaluate(() => window.__errors), []);
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
  await alice.page.evaluate(() => window.__me.close());
  await alice.context.close();
  await bob.context.close();
});

test('openInWorker rejects a refused open with its SottoError and stops the worker', async () => {
  const context = await net.browser.newContext({ serviceWorkers: 'block' });
  const page = await openPage(net, context);
  const refused = await openSottoInWorker(page, { storage: 'indexeddb', profile: 'nobody-yet' });
  assert.equal(refused.name, 'SottoError');
  assert.equal(refused.code, 'INVALID_ARGUMENT', refused.message);
  // A profile with a passphrase (Argon2id runs in the worker), then read back.
  const made = await openSottoInWorker(page, { storage: 'indexeddb', profile: 'locked', passphrase: 'pw', displayName: 'Lou' });
  assert.equal(made.ok, true, JSON.stringify(made));
  await page.evaluate(() => window.__me.close());
  const wrong = await openSottoInWorker(page, { storage: 'indexeddb', profile: 'locked', passphrase: 'nope' });
  assert.equal(wrong.code, 'WRONG_PASSPHRASE', JSON.stringify(wrong));
  const saved = await page.evaluate(async () => {
    const { savedProfileInWorker } = await import('/pkg/worker.js');
    return [await savedProfileInWorker('never-opened'), await savedProfileInWorker('locked')];
  });
  assert.deepEqual(saved, [null, { passphrase: true }]);
  await context.close();
});

test('a worker that dies is told to the application: an error event, connection offline, every call rejects', async () => {
  const context = await net.browser.newContext({ serviceWorkers: 'block' });
  const page = await openPage(net, context);
  const trust = await directoryTrust(page.url());
  const seen = await page.evaluate(async (trust) => {
    const { openInWorker } = await import('/pkg/worker.js');
    const me = await openInWorker({ ...trust, storage: 'memory', displayName: 'Dee' },
      { workerUrl: new URL('/pkg/dying-worker.test.js', location.href) });
    const events = [];
    me.addEventListener('error', (e) => events.push({ type: 'error', what: e.detail.what, code: e.detail.code }));
    me.addEventListener('connection', (e) => events.push({ type: 'connection', state: e.detail.state }));
    // (Its answer may come before or after the crash.)
    await me.securityCode('1').catch(() => {});
    for (let i = 0; i < 100 && events.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    const after = await me.contacts().then(() => 'resolved', (e) => e.code);
    return { after, events, connection: me.connection };
  }, trust);
  assert.deepEqual(seen, {
    after: 'UNSUPPORTED',
    events: [{ type: 'error', what: 'worker', code: 'UNSUPPORTED' }, { type: 'connection', state: 'offline' }],
    connection: 'offline',
  });
  await context.close();
});
