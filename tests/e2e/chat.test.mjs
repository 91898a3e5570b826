// Two people chat through a real dev network, each in a browser context of their own, using
// only the public API of pkg/sotto.js: an invitation, 100 messages each way (exactly once, in
// order), a 1 MB file and a picture, disappearing messages, and the errors a caller sees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useNetwork, artifactPath, digestIn } from './harness.mjs';

const MESSAGES = 100;

const net = useNetwork({ httpPort: 18090, wsBasePort: 19201 });

/// A page of the PWA with a `Sotto` opened as `window.__me`; received messages and contact
/// events are collected in `window.__received` / `window.__contactEvents`.
async function person(displayName) {
  const context = await net.browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(net.url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  const opened = await page.evaluate(async (displayName) => {
    const mod = await import('/pkg/sotto.js');
    // The page's app.js already ran init(); a second init() must be harmless.
    const a = await mod.default();
    const b = await mod.default();
    window.__received = [];
    window.__contactEvents = [];
    window.__events = [];
    const me = await mod.Sotto.open({
      directoryUrl: `${location.origin}/directory.json`, ...(await (await fetch('/config.json')).json()),
      storage: 'memory',
      profile: 'default',
      displayName,
    });
    me.addEventListener('message', (e) => window.__received.push(e.detail));
    me.addEventListener('contact', (e) => window.__contactEvents.push(e.detail));
    for (const type of ['status', 'progress', 'attachment', 'expired']) {
      me.addEventListener(type, (e) => window.__events.push({ type, ...e.detail }));
    }
    window.__me = me;
    return { sameInstance: a === b, version: mod.version() };
  }, displayName);
  assert.equal(opened.sameInstance, true, 'init() twice gives the same instance');
  return { context, page, errors };
}

const contactsOf = (page) => page.evaluate(() => window.__me.contacts());

/// Polls `check(await contactsOf(page))` until it holds (page.waitForFunction would take an
/// async predicate's promise as truthy).
async function untilContacts(page, check, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const contacts = await contactsOf(page);
    if (check(contacts)) return contacts;
    if (Date.now() > deadline) throw new Error(`timed out; contacts: ${JSON.stringify(contacts)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/// Two people who know each other: `{alice, bob, alicesBob, bobsAlice}` (contact ids).
async function acquainted() {
  const alice = await person('Alice');
  const bob = await person('Bob');
  const link = await alice.page.evaluate(() => window.__me.createInvitation());
  const bobsAlice = (await bob.page.evaluate((l) => window.__me.acceptInvitation(l), link)).id;
  const [alicesBob] = await untilContacts(alice.page, (cs) => cs.some((c) => c.displayName === 'Bob'));
  await untilContacts(bob.page, (cs) => cs.some((c) => c.displayName === 'Alice'));
  return { alice, bob, alicesBob: alicesBob.id, bobsAlice };
}

test('Alice and Bob meet through an invitation and exchange 100 messages each way', async () => {
  const alice = await person('Alice');
  const bob = await person('Bob');

  const link = await alice.page.evaluate(() => window.__me.createInvitation());
  assert.ok(link.startsWith(`${net.url.replace(/\/$/, '')}/#/invite/`), link);
  const svg = await alice.page.evaluate((l) => window.__me.invitationQr(l), link);
  assert.match(svg, /^<\?xml[\s\S]*<svg[\s\S]*<\/svg>\s*$|^<svg[\s\S]*<\/svg>\s*$/);

  const bobsAlice = await bob.page.evaluate((l) => window.__me.acceptInvitation(l), link);
  assert.match(bobsAlice.id, /^\d+$/);

  // Alice learns Bob's name from his hello; Bob learns hers from her first message.
  await untilContacts(alice.page, (cs) => cs.some((c) => c.displayName === 'Bob'));
  await untilContacts(bob.page, (cs) => cs.some((c) => c.displayName === 'Alice'));
  const alicesContacts = await contactsOf(alice.page);
  const bobsContacts = await contactsOf(bob.page);
  assert.equal(alicesContacts.length, 1);
  assert.equal(bobsContacts.length, 1);
  assert.deepEqual(bobsContacts[0], { id: bobsAlice.id, displayName: 'Alice', disappearingSeconds: 0, verified: false, sync: 'ok' });
  const alicesBob = alicesContacts[0];
  assert.deepEqual(Object.keys(alicesBob).sort(), ['disappearingSeconds', 'displayName', 'id', 'sync', 'verified']);
  assert.ok(
    await alice.page.evaluate(() => window.__contactEvents.some((c) => c.displayName === 'Bob')),
    'Alice got a contact event for Bob');

  const fromAlice = Array.from({ length: MESSAGES }, (_, i) => `hello Bob #${i} from Alice ✓`);
  const fromBob = Array.from({ length: MESSAGES }, (_, i) => `hi Alice #${i}, Bob here`);
  const sendAll = (page, contactId, texts) => page.evaluate(
    ({ contactId, texts }) => Promise.all(texts.map((t) => window.__me.send(contactId, t))),
    { contactId, texts });
  const [aliceSent, bobSent] = await Promise.all([
    sendAll(alice.page, alicesBob.id, fromAlice),
    sendAll(bob.page, bobsAlice.id, fromBob),
  ]);
  for (const sent of [...aliceSent, ...bobSent]) {
    assert.match(sent.id, /^[0-9a-f]{32}$/);
    assert.equal(typeof sent.sentAt, 'number');
  }
  assert.equal(new Set([...aliceSent, ...bobSent].map((s) => s.id)).size, 2 * MESSAGES);

  const waitReceived = (page) => page.waitForFunction(
    (n) => window.__received.length >= n, MESSAGES, { timeout: 60_000, polling: 200 });
  await Promise.all([waitReceived(alice.page), waitReceived(bob.page)]);
  // Give a duplicate (a redelivery or a retried send) time to show up, if there were one.
  await new Promise((r) => setTimeout(r, 2_000));

  const bobGot = await bob.page.evaluate(() => window.__received);
  const aliceGot = await alice.page.evaluate(() => window.__received);
  assert.deepEqual(bobGot.map((m) => m.text), fromAlice, 'Bob got each of Alice\'s messages once, in order');
  assert.deepEqual(aliceGot.map((m) => m.text), fromBob, 'Alice got each of Bob\'s messages once, in order');
  assert.deepEqual(bobGot.map((m) => m.id), aliceSent.map((s) => s.id), 'message ids match the sender\'s');
  for (const m of bobGot) {
    assert.equal(m.contactId, bobsAlice.id);
    assert.equal(typeof m.sentAt, 'number');
    assert.ok(m.receivedAt >= m.sentAt, JSON.stringify(m));
  }

  // History: both directions, newest page, oldest first within it.
  const history = await bob.page.evaluate((id) => window.__me.messages(id, { limit: 500 }), bobsAlice.id);
  assert.equal(history.length, 2 * MESSAGES);
  assert.deepEqual(history.filter((m) => m.outgoing).map((m) => m.text), fromBob);
  assert.deepEqual(history.filter((m) => !m.outgoing).map((m) => m.text), fromAlice);
  assert.ok(history.filter((m) => m.outgoing).every((m) => m.status === 'sent'), 'sent ones say so');
  assert.ok(history.filter((m) => !m.outgoing).every((m) => m.status === 'received'));
  const page5 = await bob.page.evaluate((id) => window.__me.messages(id, { limit: 5 }), bobsAlice.id);
  assert.deepEqual(page5.map((m) => m.id), history.slice(-5).map((m) => m.id));
  const before = await bob.page.evaluate(
    ({ id, before }) => window.__me.messages(id, { limit: 5, before }), { id: bobsAlice.id, before: page5[0].id });
  assert.deepEqual(before.map((m) => m.id), history.slice(-10, -5).map((m) => m.id), 'paging back');

  await alice.page.screenshot({ path: artifactPath('chat-alice.png') });
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
  await Promise.all([alice.page.evaluate(() => window.__me.close()), bob.page.evaluate(() => window.__me.close())]);
  await alice.context.close();
  await bob.context.close();
});

test('errors are SottoErrors with a code', async () => {
  const carol = await person('Carol');
  const codeOf = (fn, arg) => carol.page.evaluate(async ({ fn, arg }) => {
    try {
      await window.__me[fn](...arg);
      return null;
    } catch (e) {
      return { name: e.name, code: e.code, isError: e instanceof Error };
    }
  }, { fn, arg });

  const garbled = `${net.url.replace(/\/$/, '')}/#/invite/this-is-not*an~invitation`;
  assert.deepEqual(await codeOf('acceptInvitation', [garbled]),
    { name: 'SottoError', code: 'INVALID_INVITATION', isError: true });
  assert.deepEqual(await codeOf('acceptInvitation', ['hello']),
    { name: 'SottoError', code: 'INVALID_INVITATION', isError: true });
  assert.deepEqual(await codeOf('invitationQr', [garbled]),
    { name: 'SottoError', code: 'INVALID_INVITATION', isError: true });
  assert.deepEqual(await codeOf('send', ['42', 'to nobody']),
    { name: 'SottoError', code: 'UNKNOWN_CONTACT', isError: true });
  const unsupported = await carol.page.evaluate(async () => {
    const { Sotto } = await import('/pkg/sotto.js');
    try {
      await Sotto.open({ storage: 'floppy', displayName: 'X' });
      return null;
    } catch (e) {
      return { name: e.name, code: e.code };
    }
  });
  assert.deepEqual(unsupported, { name: 'SottoError', code: 'UNSUPPORTED' });
  // A relay directory that does not answer.
  const down = await carol.page.evaluate(async () => {
    const { Sotto } = await import('/pkg/sotto.js');
    try {
      await Sotto.open({ storage: 'memory', displayName: 'X', directoryUrl: 'http://127.0.0.1:9/directory.json', ...(await (await fetch('/config.json')).json()) });
      return null;
    } catch (e) {
      return { name: e.name, code: e.code };
    }
  });
  assert.deepEqual(down, { name: 'SottoError', code: 'RELAY_UNREACHABLE' });
  assert.deepEqual(await codeOf('sendFile', ['42', 'not a file']),
    { name: 'SottoError', code: 'UNSUPPORTED', isError: true });
  assert.deepEqual(await codeOf('setDisappearing', ['42', 60]),
    { name: 'SottoError', code: 'UNKNOWN_CONTACT', isError: true });

  await carol.page.evaluate(() => window.__me.close());
  assert.deepEqual(await codeOf('createInvitation', []),
    { name: 'SottoError', code: 'CLOSED', isError: true });
  assert.deepEqual(carol.errors, []);
  await carol.context.close();
});

test('a 1 MB file and a picture arrive with identical bytes, with progress', async () => {
  const { alice, bob, alicesBob, bobsAlice } = await acquainted();
  // 1 MB of pseudo-random bytes, made in Alice's page.
  const sentDigest = await digestIn(alice.page, `() => {
    const data = new Uint8Array(1024 * 1024);
    let x = 12345;
    for (let i = 0; i < data.length; i++) { x = (x * 1103515245 + 12345) >>> 0; data[i] = x >>> 24; }
    window.__file = new File([data], 'big.bin', { type: 'application/octet-stream' });
    return data;
  }`);
  const sent = await alice.page.evaluate((id) => window.__me.sendFile(id, window.__file), alicesBob);
  assert.match(sent.id, /^[0-9a-f]{32}$/);
  const uploads = await alice.page.evaluate(
    (id) => window.__events.filter((e) => e.type === 'progress' && e.id === id), sent.id);
  assert.ok(uploads.length > 1, 'upload progress was reported');
  assert.equal(uploads.at(-1).done, uploads.at(-1).total);
  assert.equal(uploads.at(-1).direction, 'upload');

  await bob.page.waitForFunction((id) => window.__events.some((e) => e.type === 'attachment' && e.id === id),
    sent.id, { timeout: 120_000, polling: 250 });
  const arrived = await bob.page.evaluate((id) => window.__events.find((e) => e.type === 'attachment' && e.id === id), sent.id);
  assert.equal(arrived.ready, true, JSON.stringify(arrived));
  const message = await bob.page.evaluate((id) => window.__received.find((m) => m.id === id), sent.id);
  assert.deepEqual(
    { ...message.attachment, thumbnail: undefined },
    { name: 'big.bin', mime: 'application/octet-stream', size: 1024 * 1024, voice: false, ready: false, thumbnail: undefined });
  const gotDigest = await digestIn(bob.page, '(id) => window.__me.attachment(id)', sent.id);
  assert.equal(gotDigest, sentDigest, 'identical bytes arrived');
  assert.equal(await digestIn(alice.page, '(id) => window.__me.attachment(id)', sent.id), sentDigest,
    'the sender keeps its copy');
  const downloads = await bob.page.evaluate(
    (id) => window.__events.filter((e) => e.type === 'progress' && e.id === id && e.direction === 'download'), sent.id);
  assert.equal(downloads.at(-1).done, downloads.at(-1).total);
  const [stored] = await bob.page.evaluate((id) => window.__me.messages(id, { limit: 1 }), bobsAlice);
  assert.equal(stored.attachment.ready, true);

  // A picture gets a preview in its message.
  const picture = await bob.page.evaluate(async (id) => {
    const canvas = new OffscreenCanvas(400, 300);
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#c33'; ctx.fillRect(0, 0, 400, 300);
    ctx.fillStyle = '#3c3'; ctx.fillRect(100, 50, 200, 200);
    const blob = await canvas.convertToBlob({ type: 'image/png' });
    return window.__me.sendFile(id, blob, { name: 'square.png' });
  }, bobsAlice);
  await alice.page.waitForFunction((id) => window.__events.some((e) => e.type === 'attachment' && e.id === id),
    picture.id, { timeout: 60_000, polling: 250 });
  const pic = await alice.page.evaluate((id) => {
    const m = window.__received.find((r) => r.id === id);
    return { ...m.attachment, thumbnail: m.attachment.thumbnail ? Array.from(m.attachment.thumbnail.slice(0, 3)) : null };
  }, picture.id);
  assert.equal(pic.name, 'square.png');
  assert.equal(pic.mime, 'image/png');
  assert.deepEqual(pic.thumbnail, [0xff, 0xd8, 0xff], 'a JPEG preview');
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
  await alice.context.close();
  await bob.context.close();
});

test('disappearing messages vanish on both sides', async () => {
  const { alice, bob, alicesBob, bobsAlice } = await acquainted();
  await alice.page.evaluate((id) => window.__me.setDisappearing(id, 3), alicesBob);
  await untilContacts(bob.page, (cs) => cs[0].disappearingSeconds === 3);
  assert.equal((await contactsOf(alice.page))[0].disappearingSeconds, 3);
  const sent = await alice.page.evaluate((id) => window.__me.send(id, 'this will self-destruct'), alicesBob);
  await bob.page.waitForFunction((id) => window.__received.some((m) => m.id === id), sent.id, { timeout: 30_000 });
  const got = await bob.page.evaluate((id) => window.__received.find((m) => m.id === id), sent.id);
  assert.ok(got.expiresAt > Date.now(), 'the message says when it goes');
  const gone = (page, contact) => page.waitForFunction(
    ({ id }) => window.__events.some((e) => e.type === 'expired' && e.ids.includes(id)),
    { id: sent.id, contact }, { timeout: 20_000, polling: 250 });
  await Promise.all([gone(alice.page, alicesBob), gone(bob.page, bobsAlice)]);
  for (const [page, contact] of [[alice.page, alicesBob], [bob.page, bobsAlice]]) {
    const left = await page.evaluate((id) => window.__me.messages(id, { limit: 50 }), contact);
    assert.ok(!left.some((m) => m.id === sent.id), 'gone from the history');
  }
  await bob.page.evaluate((id) => window.__me.setDisappearing(id, 0), bobsAlice);
  await untilContacts(alice.page, (cs) => cs[0].disappearingSeconds === 0);
  await alice.context.close();
  await bob.context.close();
});
