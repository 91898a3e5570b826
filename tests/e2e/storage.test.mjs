// Persistence through the public API of pkg/sotto.js: two IndexedDB profiles chat, reload their
// pages, find their history and keep chatting; a 'memory' profile leaves nothing behind; wipe()
// removes the database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useNetwork, person as open, openPage, openSotto, contactsOf, untilContacts, acquaint,
} from './harness.mjs';

const net = useNetwork({ httpPort: 18110, wsBasePort: 19601 });

/// Opens `Sotto` on a page of the PWA as `window.__me`; received messages go to `window.__received`.
async function openOn(page, options) {
  assert.deepEqual(await openSotto(page, options), { ok: true });
}

const person = (options) => open(net, options);

const sendAll = (page, contactId, texts) => page.evaluate(
  ({ contactId, texts }) => Promise.all(texts.map((t) => window.__me.send(contactId, t))),
  { contactId, texts });

const waitReceived = (page, n) => page.waitForFunction(
  (n) => window.__received.length >= n, n, { timeout: 60_000, polling: 200 });

/// Both send their texts at once; each receives the other's exactly once, in order.
async function exchange(alice, aliceToBob, fromAlice, bob, bobToAlice, fromBob) {
  await Promise.all([
    sendAll(alice.page, aliceToBob, fromAlice),
    sendAll(bob.page, bobToAlice, fromBob),
  ]);
  await Promise.all([waitReceived(alice.page, fromBob.length), waitReceived(bob.page, fromAlice.length)]);
  await new Promise((r) => setTimeout(r, 1_500)); // time for a duplicate to show, if there were one
  const bobGot = await bob.page.evaluate(() => window.__received.map((m) => m.text));
  const aliceGot = await alice.page.evaluate(() => window.__received.map((m) => m.text));
  assert.deepEqual(bobGot, fromAlice, 'Bob got each of Alice\'s messages once, in order');
  assert.deepEqual(aliceGot, fromBob, 'Alice got each of Bob\'s messages once, in order');
}

const dbNames = (page) => page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));

test('two IndexedDB profiles keep contacts and history across a reload', async () => {
  const alice = await person({ storage: 'indexeddb', profile: 'alice', passphrase: 'alice secret', displayName: 'Alice' });
  const bob = await person({ storage: 'indexeddb', profile: 'bob', displayName: 'Bob' });

  const aliceDbs = await dbNames(alice.page);
  assert.equal(aliceDbs.length, 1, JSON.stringify(aliceDbs));
  assert.match(aliceDbs[0], /^sotto-[0-9a-f]{16}$/, 'the database name does not show the profile');

  const words = await alice.page.evaluate(() => window.__me.revealMnemonic('alice secret'));
  assert.equal(words.split(' ').length, 24);
  assert.equal(await alice.page.evaluate(() => typeof window.__me.mnemonic), 'undefined',
    'no way to the words without the passphrase');

  const link = await alice.page.evaluate(() => window.__me.createInvitation());
  const bobsAlice = await bob.page.evaluate((l) => window.__me.acceptInvitation(l), link);
  await untilContacts(alice.page, (cs) => cs.some((c) => c.displayName === 'Bob'));
  await untilContacts(bob.page, (cs) => cs.some((c) => c.displayName === 'Alice'));
  const alicesBob = (await contactsOf(alice.page))[0];

  const before1 = Array.from({ length: 5 }, (_, i) => `Alice → Bob #${i}`);
  const before2 = Array.from({ length: 5 }, (_, i) => `Bob → Alice #${i}`);
  await exchange(alice, alicesBob.id, before1, bob, bobsAlice.id, before2);

  // A file, kept on both sides.
  const file = await alice.page.evaluate(async (id) => {
    const data = new Uint8Array(50_000).map((_, i) => (i * 7) % 256);
    const sent = await window.__me.sendFile(id, new File([data], 'notes.bin', { type: 'application/octet-stream' }));
    return { id: sent.id, bytes: Array.from(data.slice(0, 16)), size: data.length };
  }, alicesBob.id);
  for (const deadline = Date.now() + 60_000; ;) {
    if (await bob.page.evaluate(async (id) => (await window.__me.attachment(id)) !== null, file.id)) break;
    if (Date.now() > deadline) throw new Error('the file did not arrive');
    await new Promise((r) => setTimeout(r, 300));
  }
  const fileOn = (p) => p.page.evaluate(async (id) => {
    const blob = await window.__me.attachment(id);
    const bytes = new Uint8Array(await blob.arrayBuffer());
    return { id, bytes: Array.from(bytes.slice(0, 16)), size: bytes.length };
  }, file.id);
  assert.deepEqual(await fileOn(bob), file);

  // Both pages reload and open their profiles again.
  for (const p of [alice, bob]) {
    await p.page.reload();
    await openOn(p.page, p.options);
  }
  assert.deepEqual(await contactsOf(alice.page), [alicesBob]);
  assert.deepEqual((await contactsOf(bob.page)).map((c) => c.displayName), ['Alice']);
  assert.equal(await alice.page.evaluate(() => window.__me.revealMnemonic('alice secret')), words, 'the same recovery phrase');

  const historyOf = (p, id, opts = { limit: 50 }) =>
    p.page.evaluate(({ id, opts }) => window.__me.messages(id, opts), { id, opts });
  const aliceHistory = (await historyOf(alice, alicesBob.id)).filter((m) => !m.attachment);
  assert.deepEqual(aliceHistory.filter((m) => m.outgoing).map((m) => m.text), before1);
  assert.ok(aliceHistory.filter((m) => m.outgoing).every((m) => m.status === 'sent'));
  assert.deepEqual(await fileOn(bob), file, 'the received file is kept');
  assert.deepEqual(await fileOn(alice), file, 'and so is the sent one');
  assert.deepEqual(aliceHistory.filter((m) => !m.outgoing).map((m) => m.text), before2);
  const bobHistory = (await historyOf(bob, bobsAlice.id)).filter((m) => !m.attachment);
  assert.deepEqual(bobHistory.filter((m) => m.outgoing).map((m) => m.text), before2);
  assert.deepEqual(bobHistory.filter((m) => !m.outgoing).map((m) => m.text), before1);
  // Paging: the page before the newest 4.
  const everything = await historyOf(bob, bobsAlice.id);
  assert.equal(everything.at(-1).attachment.name, 'notes.bin');
  const newest = await historyOf(bob, bobsAlice.id, { limit: 4 });
  assert.deepEqual(newest.map((m) => m.id), everything.slice(-4).map((m) => m.id));
  const older = await historyOf(bob, bobsAlice.id, { limit: 3, before: newest[0].id });
  assert.deepEqual(older.map((m) => m.id), everything.slice(-7, -4).map((m) => m.id));

  const after1 = Array.from({ length: 3 }, (_, i) => `Alice → Bob after reload #${i}`);
  const after2 = Array.from({ length: 3 }, (_, i) => `Bob → Alice after reload #${i}`);
  await exchange(alice, alicesBob.id, after1, bob, bobsAlice.id, after2);
  const full = await historyOf(alice, alicesBob.id);
  assert.equal(full.length, 17);
  assert.deepEqual(full.filter((m) => m.outgoing && !m.attachment).map((m) => m.text), [...before1, ...after1]);

  // Bob goes away (his page is closed); Alice writes; Bob comes back and receives what was
  // sent while he was gone, once.
  await bob.page.evaluate(() => window.__me.close());
  await bob.page.close();
  const whileAway = ['are you there?', 'write when you are back'];
  await sendAll(alice.page, alicesBob.id, whileAway); // resolves once a relay stored them
  bob.page = await openPage(net, bob.context, bob.errors);
  await openOn(bob.page, bob.options);
  await waitReceived(bob.page, whileAway.length);
  await new Promise((r) => setTimeout(r, 1_500));
  assert.deepEqual(await bob.page.evaluate(() => window.__received.map((m) => m.text)), whileAway);

  const openAgain = (passphrase) => alice.page.evaluate(async (passphrase) => {
    const { Sotto } = await import('/pkg/sotto.js');
    try {
      await Sotto.open({ storage: 'indexeddb', profile: 'alice', passphrase, ...(await (await fetch('/config.json')).json()) });
      return null;
    } catch (e) {
      return { name: e.name, code: e.code };
    }
  }, passphrase);
  // While it is open, a second copy is refused before anything is read (one writer).
  assert.deepEqual(await openAgain('alice secret'), { name: 'SottoError', code: 'PROFILE_IN_USE' });
  // Closed, a wrong passphrase is refused.
  await alice.page.evaluate(() => window.__me.close());
  assert.deepEqual(await openAgain('nope'), { name: 'SottoError', code: 'WRONG_PASSPHRASE' });
  await openOn(alice.page, alice.options);

  // wipe() removes the database.
  await alice.page.evaluate(() => window.__me.wipe());
  assert.deepEqual(await dbNames(alice.page), []);

  for (const p of [alice, bob]) {
    assert.deepEqual(await p.page.evaluate(() => window.__errors), []);
    assert.deepEqual(p.errors, []);
  }
  await bob.page.evaluate(() => window.__me.wipe());
  await alice.context.close();
  await bob.context.close();
});

test('a memory profile leaves nothing behind', async () => {
  const context = await net.browser.newContext({ serviceWorkers: 'block' });
  const page = await openPage(net, context);
  const traces = () => page.evaluate(async () => ({
    databases: (await indexedDB.databases()).map((d) => d.name),
    caches: await caches.keys(),
    localStorage: Object.keys(localStorage),
    sessionStorage: Object.keys(sessionStorage),
  }));
  const before = await traces();
  await openOn(page, { storage: 'memory', profile: 'kiosk', displayName: 'Kiosk' });
  await page.evaluate(() => window.__me.createInvitation());
  const mnemonic = await page.evaluate(async () => {
    try { await window.__me.revealMnemonic(null); return null; } catch (e) { return e.code; }
  });
  assert.equal(mnemonic, 'UNSUPPORTED');
  await page.evaluate(() => window.__me.close());
  const after = await traces();
  assert.deepEqual(after, before, 'Sotto added nothing');
  assert.deepEqual(after.databases, []);
  assert.deepEqual(after.localStorage, []);
  await context.close();
});

/// Run in a page before its `Sotto` opens: `window.__order` records, in order, 'commit' when a
/// read-write IndexedDB transaction completes and 'out' when a WebSocket frame is sent.
function orderHooks() {
  window.__order = [];
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    window.__order.push('out');
    return send.call(this, data);
  };
  const transaction = IDBDatabase.prototype.transaction;
  IDBDatabase.prototype.transaction = function (...a) {
    const tx = transaction.apply(this, a);
    if (a[1] === 'readwrite') tx.addEventListener('complete', () => window.__order.push('commit'));
    return tx;
  };
}

test('a received message is stored before its event, and its event comes before its Ack', async () => {
  const alice = await person({ storage: 'indexeddb', profile: 'alice-order', displayName: 'Alice' });
  const bob = await person(null);
  await bob.page.evaluate(orderHooks);
  await openOn(bob.page, { storage: 'indexeddb', profile: 'bob-order', displayName: 'Bob' });
  const { alicesBob } = await acquaint(alice, bob);
  for (let i = 0; i < 3; i++) {
    await bob.page.evaluate(() => {
      window.__order = [];
      window.__me.addEventListener('message', () => window.__order.push('event'), { once: true });
    });
    await sendAll(alice.page, alicesBob.id, [`ordered ${i}`]);
    await waitReceived(bob.page, i + 1);
    await new Promise((r) => setTimeout(r, 500)); // the Ack leaves after the event
    const order = await bob.page.evaluate(() => window.__order);
    const event = order.indexOf('event');
    assert.ok(event > 0, JSON.stringify(order));
    assert.ok(order.slice(0, event).includes('commit'), `stored before the event: ${order}`);
    assert.ok(!order.slice(0, event).includes('out'), `nothing sent before the event: ${order}`);
    assert.ok(order.slice(event).includes('out'), `the Ack after it: ${order}`);
  }
  for (const p of [alice, bob]) assert.deepEqual(p.errors, []);
  await Promise.all([alice, bob].map((p) => p.page.evaluate(() => window.__me.wipe())));
  await alice.context.close();
  await bob.context.close();
});
