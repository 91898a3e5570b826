// Restore from the 24 words alone (issue 16): a saved profile keeps an encrypted snapshot of
// its state on a relay (after each change, debounced: `snapshotDebounceMs` here 300 ms); a
// fresh browser context that has only the words finds the newest snapshot, restores the
// contacts (no history) and exchanges 10 messages each way with Bob, in order, while Bob keeps
// exactly one contact for Alice. Words with no snapshot: `NO_SNAPSHOT`, no database. A restore
// from the words into 'memory' leaves nothing behind. The PWA's Restore works without the file.
// Ports: HTTP 18460, WebSocket base 29000 (the block of the relay snapshot).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useNetwork, person, openPage, call, acquaint, until, contactsOf, receivedTexts, directoryTrust,
  chatInOrder as chat,
} from './harness.mjs';

const net = useNetwork({ httpPort: 18460, wsBasePort: 29000 });

/// `Sotto.restore({directoryUrl, ...options})` on `page`, with no backup file; it becomes
/// `window.__me` as `openSotto` does. `{ok: true}` or the rejection's fields.
async function restoreFromWords(page, options) {
  const trust = await directoryTrust(page.url());
  return page.evaluate(async ({ options, trust }) => {
    const mod = await import('/pkg/sotto.js');
    await mod.default();
    window.__received = [];
    window.__contactEvents = [];
    try {
      const me = await mod.Sotto.restore({
        directoryUrl: `${location.origin}/directory.json`, ...trust, ...options,
      });
      me.addEventListener('message', (e) => window.__received.push(e.detail));
      me.addEventListener('contact', (e) => window.__contactEvents.push(e.detail));
      window.__me = me;
      return { ok: true };
    } catch (e) {
      return { name: e.name, code: e.code, message: e.message };
    }
  }, { options, trust });
}

const databases = (page) => page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));

/// Alice (saved) and Bob (memory) acquainted, one message each way; waits until a snapshot of
/// Alice's with Bob in it is stored, then closes Alice. Her words, Bob, his contact for her.
async function aliceWithSnapshot() {
  const alice = await person(net, {
    storage: 'indexeddb', passphrase: 'old', displayName: 'Alice', snapshotDebounceMs: 300,
  });
  const bob = await person(net, { storage: 'memory', displayName: 'Bob' });
  await alice.page.evaluate(() => {
    window.__snapshots = [];
    window.__me.addEventListener('snapshot', (e) => window.__snapshots.push(e.detail));

  });
  const { alicesBob, bobsAlice } = await acquaint(alice, bob);
  assert.ok((await call(alice.page, 'send', [alicesBob.id, 'hello Bob'])).value);
  await until(() => receivedTexts(bob.page), (t) => t.includes('hello Bob'));
  assert.ok((await call(bob.page, 'send', [bobsAlice.id, 'hello Alice'])).value);
  await until(() => receivedTexts(alice.page), (t) => t.includes('hello Alice'));
  // A version with Bob in it: the first went up after she opened (a random wait after the
  // debounce: before or after Bob came), and a contact added makes the next version (messages
  // alone make none).
  const stored = await until(
    () => alice.page.evaluate(() => window.__snapshots), (s) => s.some((v) => v.contacts === 1), 60_000);
  assert.equal(typeof stored[0].period, 'number');
  const words = (await call(alice.page, 'revealMnemonic', ['old'])).value;
  assert.equal(words.split(' ').length, 24);
  assert.ok((await call(alice.page, 'close')).value === undefined);
  return { alice, bob, bobsAlice, words };
}

test('a fresh device restores from the words alone and chats with Bob', async () => {
  const { alice, bob, bobsAlice, words } = await aliceWithSnapshot();
  const ctx = await net.browser.newContext({ serviceWorkers: 'block' });
  const page = await openPage(net, ctx);
  const restored = await restoreFromWords(page, { words, storage: 'indexeddb', passphrase: 'new' });
  assert.deepEqual(restored, { ok: true });
  const [contact, ...more] = await contactsOf(page);
  assert.equal(more.length, 0);
  assert.equal(contact.displayName, 'Bob');
  const history = await page.evaluate((id) => window.__me.messages(id), contact.id);
  assert.deepEqual(history, [], 'the words alone bring no history');
  await chat(page, bob, bobsAlice, 10, 'words');
  const bobs = await contactsOf(bob.page);
  assert.equal(bobs.length, 1, 'Bob keeps one contact for Alice');
  const told = await bob.page.evaluate(() => window.__contactEvents.filter((e) => e.restoredSince));
  assert.equal(told.length, 1, 'Bob is told once that Alice restored');
  assert.equal((await databases(page)).length, 1);
  await Promise.all([ctx.close(), alice.context.close(), bob.context.close()]);
});

test('words with no snapshot give NO_SNAPSHOT and write nothing', async () => {
  const ctx = await net.browser.newContext({ serviceWorkers: 'block' });
  const page = await openPage(net, ctx);
  const nobody = `${'abandon '.repeat(23)}art`;
  const r = await restoreFromWords(page, { words: nobody, storage: 'indexeddb', profile: 'restored' });
  assert.equal(r.code, 'NO_SNAPSHOT', JSON.stringify(r));
  assert.equal(r.name, 'SottoError');
  assert.match(r.message, /no relay snapshot/);
  assert.deepEqual(await databases(page), [], 'no database');
  await ctx.close();
});

test('a restore from the words into memory chats and leaves nothing behind', async () => {
  const { alice, bob, bobsAlice, words } = await aliceWithSnapshot();
  const ctx = await net.browser.newContext({ serviceWorkers: 'block' });
  const page = await openPage(net, ctx);
  assert.deepEqual(await restoreFromWords(page, { words, storage: 'memory' }), { ok: true });
  await chat(page, bob, bobsAlice, 2, 'kiosk');
  assert.ok((await call(page, 'close')).value === undefined);
  assert.deepEqual(await databases(page), [], 'nothing left behind');
  await Promise.all([ctx.close(), alice.context.close(), bob.context.close()]);
});

test('the PWA restores from the typed words alone', async () => {
  const { alice, bob, words } = await aliceWithSnapshot();
  const ctx = await net.browser.newContext({ serviceWorkers: 'block' });
  const page = await openPage(net, ctx);
  await page.getByRole('button', { name: 'Restore' }).click();
  await page.getByRole('textbox', { name: 'Recovery words' }).fill(words.split(' ').join('\n'));
  await page.locator('#restore').click();
  await page.locator('.chat-name', { hasText: 'Bob' }).waitFor({ timeout: 90_000 });
  assert.equal((await databases(page)).length, 1);
  await Promise.all([ctx.close(), alice.context.close(), bob.context.close()]);
});
