// Everyday input through the public API of pkg/sotto.js and the PWA (issue 14, cases 1, 3, 5,
// 6 and 7): mangled invitation links are accepted, your own link is refused and adds nothing,
// display names follow one rule at open and setDisplayName, a file name with a right-to-left
// override is shown safely in the PWA, a file over the size limit is refused before it is read,
// and disappearing messages that expired while a saved profile was closed are gone when it
// opens again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useNetwork, person as open, openSotto, pwaPerson, call, contactsOf, until, acquaint,
} from './harness.mjs';

const net = useNetwork({ httpPort: 18160, wsBasePort: 20101 });

/// Opens `Sotto` with `options` on `page` as `window.__me`; received messages go to
/// `window.__received`.
async function openOn(page, options) {
  assert.deepEqual(await openSotto(page, options), { ok: true });
}

/// A page in a context of its own, with `Sotto` open (`options`), or not (`null`).
const person = (options) => open(net, options);

/// Runs `method` with `args` on `window.__me` and gives `{code, message}` of its rejection,
/// or `null` when it resolved.
const failureOf = async (page, method, args) => (await call(page, method, args)).error ?? null;

test('invitation links mangled by chat apps and mail are accepted', async () => {
  const alice = await person({ storage: 'memory', displayName: 'Alice' });
  const bob = await person({ storage: 'memory', displayName: 'Bob' });
  const mangle = [
    (l) => `${l}\u200B`,
    (l) => `\u200E${l}\u200E`,
    (l) => l.match(/.{1,76}/g).join('\r\n'),
    (l) => `<${l.replace('/#/', '/?fbclid=IwAR0abc#/')}>.`,
    (l) => `Join me on Sotto: "${l.replace('#', '%23')}" see you`,
  ];
  const accepted = [];
  for (const m of mangle) {
    const link = await alice.page.evaluate(() => window.__me.createInvitation());
    const contact = await bob.page.evaluate((l) => window.__me.acceptInvitation(l), m(link));
    assert.match(contact.id, /^\d+$/);
    accepted.push(contact.id);
  }
  assert.equal(new Set(accepted).size, mangle.length);
  // Each one is a working link: Alice hears of Bob through every one.
  await until(() => contactsOf(alice.page),
    (cs) => cs.filter((c) => c.displayName === 'Bob').length === mangle.length, 60_000);
  const garbled = await failureOf(bob.page, 'acceptInvitation', [`${net.url}#/invite/not-an-invitation`]);
  assert.equal(garbled.code, 'INVALID_INVITATION');
  await Promise.all([alice.context.close(), bob.context.close()]);
});

test('accepting your own invitation is refused and adds nothing', async () => {
  const me = await person({ storage: 'memory', displayName: 'Alice' });
  const link = await me.page.evaluate(() => window.__me.createInvitation());
  for (const l of [link, ` ${link}\u200B\n`]) {
    const failure = await failureOf(me.page, 'acceptInvitation', [l]);
    assert.equal(failure?.name, 'SottoError');
    assert.equal(failure.code, 'INVALID_INVITATION');
    assert.match(failure.message, /your own invitation/);
  }
  await new Promise((r) => setTimeout(r, 2_000));
  assert.deepEqual(await contactsOf(me.page), [], 'no contact was added');
  assert.deepEqual(me.errors, []);
  await me.context.close();
});

test('display names follow one rule at open and at setDisplayName', async () => {
  const page = (await person(null)).page;
  const openFailure = (displayName) => page.evaluate(async (displayName) => {
    const mod = await import('/pkg/sotto.js');
    await mod.default();
    const options = { directoryUrl: `${location.origin}/directory.json`, ...(await (await fetch('/config.json')).json()), storage: 'memory' };
    if (displayName !== undefined) options.displayName = displayName;
    try {
      const me = await mod.Sotto.open(options);
      const name = me.displayName;
      await me.close();
      return { opened: name };
    } catch (e) {
      return { code: e.code, message: e.message };
    }
  }, displayName);
  for (const bad of ['', '   ', '\u200B', '\u3164', '\u200BAlice', '\u202Eecila', 'Ali\nce', 'x'.repeat(1000), undefined]) {
    const r = await openFailure(bad);
    assert.equal(r.code, 'INVALID_ARGUMENT', `open with ${JSON.stringify(bad)}: ${JSON.stringify(r)}`);
    assert.ok(r.message.length > 10, r.message);
  }
  assert.match((await openFailure('x'.repeat(1000))).message, /at most 64/);
  assert.match((await openFailure('\u200BAlice')).message, /U\+200B/);
  assert.deepEqual(await openFailure('  Zoë  '), { opened: 'Zoë' });

  await openOn(page, { storage: 'memory', displayName: 'Alice' });
  for (const bad of ['\u200B', '\u3164', '\u200bAlice', '\u202Eecila', 'Ali\nce', 'x'.repeat(65), '\u2800']) {
    const f = await failureOf(page, 'setDisplayName', [bad]);
    assert.equal(f?.code, 'INVALID_ARGUMENT', `setDisplayName(${JSON.stringify(bad)})`);
  }
  assert.equal(await page.evaluate(() => window.__me.displayName), 'Alice', 'a refused name changes nothing');
  assert.equal(await failureOf(page, 'setDisplayName', ['Ana ❤️']), null);
  assert.equal(await page.evaluate(() => window.__me.displayName), 'Ana ❤️');
  // Grapheme clusters come from the engine's Intl.Segmenter, installed at the module's start:
  // a family's joiners are inside one cluster, and 42 letters with a combining accent (84 code
  // points, 126 bytes) are 42 characters of the 64 allowed.
  for (const good of ['👨\u200D👩\u200D👧', 'e\u0301'.repeat(42)]) {
    assert.equal(await failureOf(page, 'setDisplayName', [good]), null, `setDisplayName(${JSON.stringify(good)})`);
    assert.equal(await page.evaluate(() => window.__me.displayName), good);
  }
  await page.context().close();
});

test('a file named with a right-to-left override is shown safely in the PWA', async () => {
  // Alice uses the PWA; Bob the library, in a page of his own.
  const alice = await pwaPerson(net, 'Alice');
  await alice.page.getByRole('button', { name: 'New chat' }).click();
  await alice.page.getByRole('button', { name: 'Create invitation' }).click();
  await alice.page.waitForFunction(
    () => document.getElementById('invite-link-out').value.includes('#/invite/'), null, { timeout: 30_000 });
  const link = await alice.page.getByRole('textbox', { name: 'Invitation link' }).inputValue();

  const bob = await person({ storage: 'memory', displayName: 'Bob' });
  const bobsAlice = (await bob.page.evaluate((l) => window.__me.acceptInvitation(l), link)).id;
  await until(() => contactsOf(bob.page), (cs) => cs.some((c) => c.displayName === 'Alice'));
  await bob.page.evaluate(async (id) => {
    const file = new File([new Uint8Array(2048).fill(7)], 'invoice\u202Etxt.exe', { type: 'application/octet-stream' });
    await window.__me.sendFile(id, file);
  }, bobsAlice);

  const item = alice.page.locator('.chat-item', { hasText: 'Bob' });
  await item.locator('.chat-last bdi').filter({ hasText: 'invoice' }).waitFor({ timeout: 30_000 });
  const preview = await item.locator('.chat-last').textContent();
  assert.equal(preview, 'File: invoice⟨RLO⟩txt.exe');
  await item.click();
  const name = alice.page.getByRole('log').locator('.file-name');
  await name.waitFor({ timeout: 30_000 });
  assert.equal(await name.textContent(), 'invoice⟨RLO⟩txt.exe');
  assert.equal(await name.evaluate((n) => n.tagName), 'BDI');
  assert.equal(await alice.page.getByRole('log').locator('.bubble .text').first().getAttribute('dir'), 'auto');
  const download = alice.page.getByRole('log').locator('a.download');
  await download.waitFor({ timeout: 30_000 });
  assert.equal(await download.getAttribute('download'), 'invoicetxt.exe');
  const shown = await alice.page.evaluate(() => document.body.innerText);
  assert.ok(!shown.includes('\u202E'), 'no override reaches the page');
  assert.ok(!shown.includes('invoiceexe.txt'));
  assert.deepEqual(alice.errors, []);
  await Promise.all([alice.context.close(), bob.context.close()]);
});

test('a file over the size limit is refused at once, before it is read, and adds nothing', async () => {
  const [alice, bob] = await Promise.all([
    person({ storage: 'memory', displayName: 'Alice' }),
    person({ storage: 'memory', displayName: 'Bob' }),
  ]);
  const { bobsAlice } = await acquaint(alice, bob);
  const contactId = bobsAlice.id;
  const result = await bob.page.evaluate(async (id) => {
    let reads = 0;
    const read = Blob.prototype.arrayBuffer;
    Blob.prototype.arrayBuffer = function () { reads += 1; return read.call(this); };
    const statuses = [];
    window.__me.addEventListener('status', (e) => statuses.push(e.detail));
    const big = new Blob([new Uint8Array(16 * 1024 * 1024)], { type: 'video/mp4' });
    let code = null;
    try { await window.__me.sendFile(id, big); } catch (e) { code = e.code; }
    Blob.prototype.arrayBuffer = read;
    await new Promise((r) => setTimeout(r, 500));
    return { code, reads, statuses, messages: (await window.__me.messages(id)).length };
  }, contactId);
  assert.deepEqual(result, { code: 'MESSAGE_TOO_LARGE', reads: 0, statuses: [], messages: 0 });
  await Promise.all([alice.context.close(), bob.context.close()]);
});

test('disappeared messages are gone when a closed profile opens again', async () => {
  const alice = await person({ storage: 'indexeddb', profile: 'alice', displayName: 'Alice' });
  const bob = await person({ storage: 'indexeddb', profile: 'bob', displayName: 'Bob' });
  const link = await alice.page.evaluate(() => window.__me.createInvitation());
  const bobsAlice = (await bob.page.evaluate((l) => window.__me.acceptInvitation(l), link)).id;
  const [alicesBob] = await until(() => contactsOf(alice.page), (cs) => cs.some((c) => c.displayName === 'Bob'));
  await until(() => contactsOf(bob.page), (cs) => cs.some((c) => c.displayName === 'Alice'));

  await alice.page.evaluate((id) => window.__me.setDisappearing(id, 6), alicesBob.id);
  await until(() => contactsOf(bob.page), (cs) => cs[0]?.disappearingSeconds === 6);
  await alice.page.evaluate((id) => window.__me.send(id, 'gone soon, Bob'), alicesBob.id);
  await bob.page.evaluate((id) => window.__me.send(id, 'gone soon, Alice'), bobsAlice);
  await until(() => bob.page.evaluate(() => window.__received.length), (n) => n >= 1);
  const before = await bob.page.evaluate((id) => window.__me.messages(id), bobsAlice);
  assert.deepEqual(before.map((m) => m.text).sort(), ['gone soon, Alice', 'gone soon, Bob']);
  assert.ok(before.every((m) => m.expiresAt > Date.now()));

  // Bob closes his profile before the messages expire and opens it again 12 s later.
  await new Promise((r) => setTimeout(r, 1_000));
  await bob.page.evaluate(() => window.__me.close());
  await new Promise((r) => setTimeout(r, 12_000));
  await bob.page.reload();
  const after = await bob.page.evaluate(async ({ options, id }) => {
    const mod = await import('/pkg/sotto.js');
    await mod.default();
    const me = await mod.Sotto.open({ directoryUrl: `${location.origin}/directory.json`, ...(await (await fetch('/config.json')).json()), ...options });
    const list = await me.messages(id);
    await me.close();
    return list;
  }, { options: bob.options, id: bobsAlice });
  assert.deepEqual(after, [], 'nothing past its expiry is returned after open');
  await Promise.all([alice.context.close(), bob.context.close()]);
});
