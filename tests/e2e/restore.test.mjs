// Restore on a new device (issue 16) through the public API of pkg/sotto.js. Alice (a saved
// profile) chats with Bob and exports a backup; a fresh browser context restores it from the
// file and the 24 words and exchanges 10 messages each way with Bob, in order, while Bob keeps
// exactly one contact for Alice and is told she restored. Every bad input is refused with its
// code before anything is written (no IndexedDB database exists afterwards), and a restore
// into 'memory' leaves no database behind (and, its keys gone with it, the same backup restores
// again and chats). When the old device opens the profile again, it learns the profile moved:
// its sends and a file it was uploading reject PROFILE_MOVED and Bob gets nothing from it.
// Ports: HTTP 18400, WebSocket base 26000 (the block of issue 16).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useNetwork, person, openPage, openSotto, call, acquaint, until, contactsOf, receivedTexts, directoryTrust,
  chatInOrder as chat,
} from './harness.mjs';

const net = useNetwork({ httpPort: 18400, wsBasePort: 26000 });

/// `Sotto.restore({directoryUrl, ...options, backup})` on `page`, `backup` given as an array of
/// bytes (made a Uint8Array, or a Blob with `asBlob`); as `openSotto` does, it becomes
/// `window.__me` with the same event lists. `{ok: true}` or the rejection's fields.
async function restoreOn(page, options, backup, asBlob = false) {
  const trust = await directoryTrust(page.url());
  return page.evaluate(async ({ options, backup, asBlob, trust }) => {
    const mod = await import('/pkg/sotto.js');
    await mod.default();
    window.__received = [];
    window.__contactEvents = [];
    const bytes = new Uint8Array(backup);
    try {
      const me = await mod.Sotto.restore({
        directoryUrl: `${location.origin}/directory.json`,
        ...trust,
        ...options,
        backup: asBlob ? new Blob([bytes]) : bytes,
      });
      me.addEventListener('message', (e) => window.__received.push(e.detail));
      me.addEventListener('contact', (e) => window.__contactEvents.push(e.detail));
      window.__me = me;
      return { ok: true };
    } catch (e) {
      return { name: e.name, code: e.code, message: e.message };
    }
  }, { options, backup, asBlob, trust });
}

const databases = (page) => page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));

/// Alice (saved, passphrase 'old') and Bob (memory) acquainted, two messages exchanged; Alice's
/// backup (as an array of bytes) and recovery words; Alice's Sotto closed.
async function aliceWithBackup() {
  const alice = await person(net, { storage: 'indexeddb', passphrase: 'old', displayName: 'Alice' });
  const bob = await person(net, { storage: 'memory', displayName: 'Bob' });
  const { alicesBob, bobsAlice } = await acquaint(alice, bob);
  assert.ok((await call(alice.page, 'send', [alicesBob.id, 'hello Bob'])).value);
  await until(() => receivedTexts(bob.page), (t) => t.includes('hello Bob'));
  assert.ok((await call(bob.page, 'send', [bobsAlice.id, 'hello Alice'])).value);
  await until(() => receivedTexts(alice.page), (t) => t.includes('hello Alice'));
  const backup = await alice.page.evaluate(async () => Array.from(await window.__me.exportBackup()));
  const words = (await call(alice.page, 'revealMnemonic', ['old'])).value;
  assert.equal(words.split(' ').length, 24);
  assert.ok((await call(alice.page, 'close')).value === undefined);
  return { alice, bob, bobsAlice, backup, words };
}

test('a fresh device restores from the file and the words, and chats with Bob', async () => {
  const { alice, bob, bobsAlice, backup, words } = await aliceWithBackup();
  const ctx = await net.browser.newContext({ serviceWorkers: 'block' });
  const page = await openPage(net, ctx);
  // The words as a person pastes them: other case, extra whitespace, line breaks.
  const typed = `  ${words.toUpperCase().split(' ').join('\n ')}  `;
  const restored = await restoreOn(page, { words: typed, storage: 'indexeddb', passphrase: 'new' }, backup, true);
  assert.deepEqual(restored, { ok: true });
  const [contact, ...more] = await contactsOf(page);
  assert.equal(more.length, 0);
  assert.equal(contact.displayName, 'Bob');
  const history = await page.evaluate((id) => window.__me.messages(id), contact.id);
  assert.deepEqual(history.map((m) => m.text), ['hello Bob', 'hello Alice'], 'the history came back');
  await chat(page, bob, bobsAlice, 10, 'restored');
  // Bob kept one contact for Alice and was told she restored.
  const bobs = await contactsOf(bob.page);
  assert.equal(bobs.length, 1);
  assert.equal(bobs[0].sync, 'ok');
  const told = await bob.page.evaluate(() => window.__contactEvents.filter((e) => e.restoredSince));
  assert.equal(told.length, 1);
  assert.match(told[0].warning, /restored/);
  assert.equal((await contactsOf(page))[0].sync, 'ok');
  // The restored profile is saved under the new passphrase.
  assert.ok((await call(page, 'close')).value === undefined);
  const saved = await page.evaluate(async () => (await import('/pkg/sotto.js')).Sotto.savedProfile());
  assert.deepEqual(saved, { passphrase: true });
  await Promise.all([ctx.close(), alice.context.close(), bob.context.close()]);
});

test('the old device learns that the profile moved and sends nothing', async () => {
  const { alice, bob, bobsAlice, backup, words } = await aliceWithBackup();
  // Context 2 restores Alice's profile and chats with Bob.
  const ctx = await net.browser.newContext({ serviceWorkers: 'block' });
  const page = await openPage(net, ctx);
  assert.deepEqual(await restoreOn(page, { words, storage: 'indexeddb', passphrase: 'new' }, backup), { ok: true });
  await chat(page, bob, bobsAlice, 2, 'restored');
  // Context 1 opens its saved copy again and writes at once.
  assert.deepEqual(await openSotto(alice.page, { storage: 'indexeddb', passphrase: 'old' }), { ok: true });
  const [alicesBob] = await contactsOf(alice.page);
  await alice.page.evaluate((id) => {
    window.__moved = [];
    window.__me.addEventListener('moved', (e) => window.__moved.push(e.detail));
    window.__early = null;
    window.__me.send(id, 'queued on the old device').then(
      (v) => { window.__early = { value: v }; },
      (e) => { window.__early = { code: e.code, messageId: e.messageId }; });
    // A file whose upload is in flight when the old device learns it moved: PROFILE_MOVED
    // too (not RELAY_UNREACHABLE).
    window.__earlyFile = null;
    window.__me.sendFile(id, new Blob([new Uint8Array(300_000)]), { name: 'big.bin' }).then(
      (v) => { window.__earlyFile = { value: v }; },
      (e) => { window.__earlyFile = { code: e.code, messageId: e.messageId }; });
  }, alicesBob.id);
  const told = await until(
    () => alice.page.evaluate(() => ({ moved: window.__me.moved, events: window.__moved })),
    (m) => m.moved && m.events.length === 1, 60_000);
  assert.match(told.events[0].message, /restored on another device/);
  const early = await until(() => alice.page.evaluate(() => window.__early), (e) => e !== null, 40_000);
  assert.equal(early.code, 'PROFILE_MOVED', JSON.stringify(early));
  const earlyFile = await until(() => alice.page.evaluate(() => window.__earlyFile), (e) => e !== null, 40_000);
  assert.equal(earlyFile.code, 'PROFILE_MOVED', JSON.stringify(earlyFile));
  const late = await call(alice.page, 'send', [alicesBob.id, 'sent from the old device']);
  assert.equal(late.error?.code, 'PROFILE_MOVED', JSON.stringify(late));
  const invite = await call(alice.page, 'createInvitation');
  assert.equal(invite.error?.code, 'PROFILE_MOVED', JSON.stringify(invite));
  // Reopened, it stays moved.
  await alice.page.evaluate(() => window.__me.close());
  assert.deepEqual(await openSotto(alice.page, { storage: 'indexeddb', passphrase: 'old' }), { ok: true });
  assert.equal(await alice.page.evaluate(() => window.__me.moved), true);
  const again = await call(alice.page, 'send', [alicesBob.id, 'after reopening']);
  assert.equal(again.error?.code, 'PROFILE_MOVED', JSON.stringify(again));
  // Context 2 and Bob still chat both ways; Bob got nothing from context 1.
  await chat(page, bob, bobsAlice, 2, 'after');
  const bobGot = await receivedTexts(bob.page);
  for (const t of ['queued on the old device', 'sent from the old device', 'after reopening']) {
    assert.ok(!bobGot.includes(t), `Bob never gets '${t}'`);
  }
  assert.equal(await page.evaluate(() => window.__me.moved), false);
  // The PWA on context 1 (the library in its worker) unlocks the profile and says it moved.
  await alice.page.evaluate(() => window.__me.close());
  await alice.page.reload();
  const passphrase = alice.page.getByRole('textbox', { name: 'Passphrase', exact: true });
  await passphrase.fill('old');
  await alice.page.getByRole('button', { name: 'Unlock' }).click();
  await alice.page.locator('#notice', { hasText: 'This profile was restored on another device; this copy no longer sends or receives.' })
    .waitFor({ timeout: 30_000 });
  assert.equal(await alice.page.evaluate(() => document.body.dataset.moved), 'true');
  await Promise.all([ctx.close(), alice.context.close(), bob.context.close()]);
});

test('bad inputs are refused with their code and write nothing', async () => {
  const { alice, bob, backup, words } = await aliceWithBackup();
  const ctx = await net.browser.newContext({ serviceWorkers: 'block' });
  const page = await openPage(net, ctx);
  const list = words.split(' ');
  const unknown = [...list];
  unknown[4] = 'xyzzy';
  const swapped = [...list];
  [swapped[0], swapped[1]] = [swapped[1], swapped[0]];
  const cut = backup.slice(0, backup.length - 7);
  const garbled = [...backup];
  garbled[60] ^= 1;
  const future = [...backup];
  future[7] = '9'.charCodeAt(0);
  const other = `${'abandon '.repeat(23)}art`;
  const cases = [
    // By its position only: the word a person mistyped is likely one letter off a secret one.
    ['unknown word', unknown.join(' '), backup, 'WRONG_WORDS', /^word 5 is not a recovery-phrase word$/],
    ['checksum', swapped.join(' '), backup, 'WRONG_WORDS', /checksum/],
    ['too few words', list.slice(1).join(' '), backup, 'WRONG_WORDS', /23/],
    ['truncated', words, cut, 'INVALID_BACKUP', /damaged|cut/],
    ['garbled', words, garbled, 'INVALID_BACKUP', /damaged/],
    ['unknown version', words, future, 'INVALID_BACKUP', /version/],
    ['not a backup', words, [1, 2, 3], 'INVALID_BACKUP', /not a Sotto backup/],
    ['other words', other, backup, 'BACKUP_MISMATCH', /do not open/],
  ];
  for (const [what, w, file, code, message] of cases) {
    const r = await restoreOn(page, { words: w, storage: 'indexeddb', profile: 'restored' }, file);
    assert.equal(r.code, code, `${what}: ${JSON.stringify(r)}`);
    assert.equal(r.name, 'SottoError');
    assert.match(r.message, message, what);
    assert.deepEqual(await databases(page), [], `${what}: no database`);
  }
  // Over Alice's saved profile without `replace`: refused, her database untouched.
  const before = await databases(alice.page);
  assert.equal(before.length, 1);
  const r = await restoreOn(alice.page, { words, storage: 'indexeddb' }, backup);
  assert.equal(r.code, 'PROFILE_EXISTS', JSON.stringify(r));
  assert.deepEqual(await databases(alice.page), before);
  // With `replace: true` but a directory these keys do not sign: refused before anything is
  // written, so her profile still opens with Bob in it.
  const stranger = Buffer.from([0x58, ...Array(31).fill(0x66)]).toString('base64url');
  const refused = await restoreOn(alice.page, {
    words, storage: 'indexeddb', replace: true, directoryKeys: [stranger], directoryThreshold: 1,
  }, backup);
  assert.equal(refused.code, 'DIRECTORY_INVALID', JSON.stringify(refused));
  assert.deepEqual(await databases(alice.page), before);
  assert.deepEqual(await openSotto(alice.page, { storage: 'indexeddb', passphrase: 'old' }), { ok: true });
  assert.deepEqual((await contactsOf(alice.page)).map((c) => c.displayName), ['Bob']);
  await alice.page.evaluate(() => window.__me.close());
  // With `replace: true` it is restored in place.
  assert.deepEqual(await restoreOn(alice.page, { words, storage: 'indexeddb', replace: true }, backup), { ok: true });
  assert.deepEqual(await databases(alice.page), before);
  await Promise.all([ctx.close(), alice.context.close(), bob.context.close()]);
});

/// Makes IndexedDB refuse the `nth` put from now on, as a full disk does (`QuotaExceededError`,
/// thrown at once), in `page`; `window.__unpatch()` undoes it.
const refuseNthPut = (page, nth) => page.evaluate((nth) => {
  const put = IDBObjectStore.prototype.put;
  let n = 0;
  IDBObjectStore.prototype.put = function (...args) {
    if (++n === nth) throw new DOMException('the disk is full', 'QuotaExceededError');
    return put.apply(this, args);
  };
  window.__unpatch = () => { IDBObjectStore.prototype.put = put; };
}, nth);

/// Makes IndexedDB abort the next transaction that asks to commit, as the browser does when a
/// commit fails (a full disk found at commit time), in `page`.
const abortNextCommit = (page) => page.evaluate(() => {
  const commit = IDBTransaction.prototype.commit;
  IDBTransaction.prototype.commit = function () {
    IDBTransaction.prototype.commit = commit;
    this.abort();
  };
});

test('a restore whose write fails changes nothing: the saved profile it would replace stays whole, a new one leaves no database', async () => {
  const { alice, bob, backup, words } = await aliceWithBackup();
  const before = await databases(alice.page);
  // The disk fills halfway through the restore's write, over Alice's saved profile.
  await refuseNthPut(alice.page, 3);
  const failed = await restoreOn(alice.page, { words, storage: 'indexeddb', passphrase: 'new', replace: true }, backup);
  assert.equal(failed.code, 'STORAGE_QUOTA', JSON.stringify(failed));
  await alice.page.evaluate(() => window.__unpatch());
  // Or every request is done and the commit fails.
  await abortNextCommit(alice.page);
  const aborted = await restoreOn(alice.page, { words, storage: 'indexeddb', passphrase: 'new', replace: true }, backup);
  // (An abort by script carries no QuotaExceededError, so the code is the plain one.)
  assert.equal(aborted.code, 'STORAGE', JSON.stringify(aborted));
  // Her profile is as it was: her passphrase, Bob, their history.
  assert.deepEqual(await databases(alice.page), before);
  assert.deepEqual(await openSotto(alice.page, { storage: 'indexeddb', passphrase: 'old' }), { ok: true });
  const [contact, ...more] = await contactsOf(alice.page);
  assert.deepEqual([contact.displayName, more.length], ['Bob', 0]);
  const history = await alice.page.evaluate((id) => window.__me.messages(id), contact.id);
  assert.deepEqual(history.map((m) => m.text), ['hello Bob', 'hello Alice']);
  await alice.page.evaluate(() => window.__me.close());
  // The same failure on a device with no profile leaves no database.
  const ctx = await net.browser.newContext({ serviceWorkers: 'block' });
  const page = await openPage(net, ctx);
  await refuseNthPut(page, 3);
  const fresh = await restoreOn(page, { words, storage: 'indexeddb', profile: 'restored' }, backup);
  assert.equal(fresh.code, 'STORAGE_QUOTA', JSON.stringify(fresh));
  assert.deepEqual(await databases(page), []);
  // With room again, the restore replaces her profile whole: the new passphrase opens it.
  assert.deepEqual(await restoreOn(alice.page, { words, storage: 'indexeddb', passphrase: 'new', replace: true }, backup), { ok: true });
  assert.deepEqual((await contactsOf(alice.page)).map((c) => c.displayName), ['Bob']);
  await alice.page.evaluate(() => window.__me.close());
  assert.equal((await openSotto(alice.page, { storage: 'indexeddb', passphrase: 'old' })).code, 'WRONG_PASSPHRASE');
  assert.deepEqual(await openSotto(alice.page, { storage: 'indexeddb', passphrase: 'new' }), { ok: true });
  await Promise.all([ctx.close(), alice.context.close(), bob.context.close()]);
});

test('a restore into memory chats and leaves no database, and does not lock the profile out', async () => {
  const { alice, bob, bobsAlice, backup, words } = await aliceWithBackup();
  const ctx = await net.browser.newContext({ serviceWorkers: 'block' });
  const page = await openPage(net, ctx);
  assert.deepEqual(await restoreOn(page, { words, storage: 'memory' }, backup), { ok: true });
  await chat(page, bob, bobsAlice, 2, 'kiosk');
  assert.ok((await call(page, 'close')).value === undefined);
  assert.deepEqual(await databases(page), [], 'nothing left behind');
  // The kiosk's keys are gone with it; the same backup restored again takes the profile back
  // (its queue keys come from the words) and chats.
  const ctx2 = await net.browser.newContext({ serviceWorkers: 'block' });
  const again = await openPage(net, ctx2);
  assert.deepEqual(await restoreOn(again, { words, storage: 'indexeddb', passphrase: 'again' }, backup), { ok: true });
  await chat(again, bob, bobsAlice, 2, 'again');
  assert.equal(await again.evaluate(() => window.__me.moved), false);
  await Promise.all([ctx.close(), ctx2.close(), alice.context.close(), bob.context.close()]);
});

test('the PWA restores from typed words and the file, naming a wrong word', async () => {
  const { alice, bob, backup, words } = await aliceWithBackup();
  const ctx = await net.browser.newContext({ serviceWorkers: 'block' });
  const page = await openPage(net, ctx);
  await page.getByRole('button', { name: 'Restore' }).click();
  const list = words.split(' ');
  const wrong = [...list];
  wrong[2] = 'notaword';
  await page.getByRole('textbox', { name: 'Recovery words' }).fill(wrong.join(' '));
  await page.getByLabel('Backup file').setInputFiles({
    name: 'sotto-backup.bin', mimeType: 'application/octet-stream', buffer: Buffer.from(backup),
  });
  await page.locator('#restore').click();
  await page.locator('#restore-error', { hasText: 'word 3 is not' }).waitFor({ timeout: 20_000 });
  assert.deepEqual(await databases(page), [], 'nothing written for a wrong word');
  await page.getByRole('textbox', { name: 'Recovery words' }).fill(list.join('\n'));
  await page.locator('#restore').click();
  await page.locator('.chat-name', { hasText: 'Bob' }).waitFor({ timeout: 30_000 });
  assert.equal((await databases(page)).length, 1);
  await Promise.all([ctx.close(), alice.context.close(), bob.context.close()]);
});
