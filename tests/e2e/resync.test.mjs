// Ratchet resynchronisation through the public API of pkg/sotto.js (issue 12: "a conversation
// must never be left silently broken"). Alice (a saved IndexedDB profile) and Bob chat; Alice's
// profile is rolled back to an earlier copy of its database (restored with the page's own
// IndexedDB API before `Sotto.open`, as a restored backup or an old disk image would); she
// writes from the old state. Bob is told a message could not be decrypted, both see the
// conversation resynchronise ('resyncing', then `resynced`), and messages flow both ways.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDev, launchBrowser, openSotto, receivedTexts } from './harness.mjs';

let dev;
let browser;

before(async () => {
  dev = await startDev({ httpPort: 18300, wsBasePort: 21000 });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (dev) assert.equal(await dev.stop(), 0, 'sotto-relay dev exits 0 on SIGTERM');
});

/// `openSotto` (the harness's), asserting it opened.
async function openOn(page, options) {
  assert.deepEqual(await openSotto(page, options), { ok: true });
}

async function pageIn(context) {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('pageerror:', e.message));
  await page.goto(dev.url);
  return page;
}

const contactsOf = (page) => page.evaluate(() => window.__me.contacts());
const send = (page, contactId, text) => page.evaluate(
  ({ contactId, text }) => window.__me.send(contactId, text), { contactId, text });
const untilReceived = (page, text, timeout = 60_000) => page.waitForFunction(
  (t) => window.__received.some((m) => m.text === t), text, { timeout, polling: 200 });

/// Copies every record of every Sotto database of this origin into a database of its own
/// ('copy' = true), or puts the copied records back, replacing what is there ('copy' = false).
/// Only the page's IndexedDB API; run while no Sotto is open.
function copyDatabases(page, copy) {
  return page.evaluate(async (copy) => {
    const req = (r) => new Promise((ok, fail) => { r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
    const done = (tx) => new Promise((ok, fail) => { tx.oncomplete = ok; tx.onerror = () => fail(tx.error); });
    const open = (name, upgrade) => {
      const r = indexedDB.open(name);
      if (upgrade) r.onupgradeneeded = () => upgrade(r.result);
      return req(r);
    };
    const saved = await open('rollback-copy', (db) => db.createObjectStore('records'));
    const names = (await indexedDB.databases()).map((d) => d.name).filter((n) => n.startsWith('sotto-'));
    let count = 0;
    for (const name of names) {
      const db = await open(name);
      const stores = [...db.objectStoreNames];
      if (copy) {
        const tx = db.transaction(stores, 'readonly');
        const rows = {};
        for (const s of stores) {
          const st = tx.objectStore(s);
          const [keys, values] = await Promise.all([req(st.getAllKeys()), req(st.getAll())]);
          rows[s] = keys.map((k, i) => [k, values[i]]);
          count += keys.length;
        }
        const w = saved.transaction('records', 'readwrite');
        w.objectStore('records').put(rows, name);
        await done(w);
      } else {
        const rows = await req(saved.transaction('records').objectStore('records').get(name));
        const tx = db.transaction(stores, 'readwrite');
        for (const s of stores) {
          const st = tx.objectStore(s);
          st.clear();
          for (const [k, v] of rows[s] ?? []) {
            if (st.keyPath === null) st.put(v, k); else st.put(v);
            count += 1;
          }
        }
        await done(tx);
      }
      db.close();
    }
    saved.close();
    return count;
  }, copy);
}

test('a rolled-back profile is reported and resynchronised; messages flow both ways after', async () => {
  const profile = { storage: 'indexeddb', profile: 'rollback', passphrase: 'roll back', displayName: 'Alice' };
  const aliceContext = await browser.newContext({ serviceWorkers: 'block' });
  const bobContext = await browser.newContext({ serviceWorkers: 'block' });
  const alice = await pageIn(aliceContext);
  const bob = await pageIn(bobContext);
  await openOn(alice, profile);
  await openOn(bob, { storage: 'memory', displayName: 'Bob' });

  const link = await alice.evaluate(() => window.__me.createInvitation());
  const bobsAlice = await bob.evaluate((l) => window.__me.acceptInvitation(l), link);
  const deadline = Date.now() + 60_000;
  while (!(await contactsOf(alice)).some((c) => c.displayName === 'Bob')) {
    assert.ok(Date.now() < deadline, 'Alice learns Bob');
    await new Promise((r) => setTimeout(r, 300));
  }
  const alicesBob = (await contactsOf(alice))[0];
  assert.equal(alicesBob.sync, 'ok');
  await send(alice, alicesBob.id, 'a1');
  await untilReceived(bob, 'a1');

  // An earlier copy of Alice's profile.
  await alice.evaluate(() => window.__me.close());
  assert.ok(await copyDatabases(alice, true) > 0, 'the profile has records to copy');
  await alice.reload();
  await openOn(alice, profile);
  await send(alice, alicesBob.id, 'a2');
  await send(alice, alicesBob.id, 'a3');
  await untilReceived(bob, 'a3');
  await send(bob, bobsAlice.id, 'b1');
  await untilReceived(alice, 'b1');

  // Rolled back: the old records replace the new ones, then the profile opens.
  await alice.evaluate(() => window.__me.close());
  assert.ok(await copyDatabases(alice, false) > 0);
  await alice.reload();
  await openOn(alice, profile);
  await send(alice, alicesBob.id, 'from the past');

  // Bob is told, and both see the conversation re-established.
  await bob.waitForFunction(() => window.__contactEvents.some((c) => c.resynced), null, { timeout: 90_000, polling: 200 });
  await alice.waitForFunction(() => window.__contactEvents.some((c) => c.resynced), null, { timeout: 90_000, polling: 200 });
  const bobEvents = await bob.evaluate(() => window.__contactEvents);
  assert.ok(bobEvents.some((c) => c.warning && c.sync === 'resyncing'), JSON.stringify(bobEvents));
  assert.equal((await contactsOf(alice))[0].sync, 'ok');
  assert.equal((await contactsOf(bob))[0].sync, 'ok');
  assert.equal((await contactsOf(bob)).length, 1, 'Bob keeps one contact for Alice');

  await send(alice, alicesBob.id, 'after, to Bob');
  await send(bob, bobsAlice.id, 'after, to Alice');
  await untilReceived(bob, 'after, to Bob');
  await untilReceived(alice, 'after, to Alice');
  assert.ok(!(await receivedTexts(bob)).includes('from the past'));

  await aliceContext.close();
  await bobContext.close();
});
