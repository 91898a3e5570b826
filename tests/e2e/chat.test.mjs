// Two people chat through a real dev network, each in a browser context of their own, using
// only the public API of pkg/sotto.js: an invitation, 20 messages each way (exactly once, in
// order), and the errors a caller sees.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDev, launchBrowser, artifactPath } from './harness.mjs';

const MESSAGES = 20;
let dev;
let browser;

before(async () => {
  dev = await startDev({ httpPort: 18090, wsBasePort: 19201 });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (dev) assert.equal(await dev.stop(), 0, 'sotto-relay dev exits 0 on SIGTERM');
});

/// A page of the PWA with a `Sotto` opened as `window.__me`; received messages and contact
/// events are collected in `window.__received` / `window.__contactEvents`.
async function person(displayName) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(dev.url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  const opened = await page.evaluate(async (displayName) => {
    const mod = await import('/pkg/sotto.js');
    // The page's app.js already ran init(); a second init() must be harmless.
    const a = await mod.default();
    const b = await mod.default();
    window.__received = [];
    window.__contactEvents = [];
    const me = await mod.Sotto.open({
      directoryUrl: `${location.origin}/directory.json`,
      storage: 'memory',
      profile: 'default',
      displayName,
    });
    me.addEventListener('message', (e) => window.__received.push(e.detail));
    me.addEventListener('contact', (e) => window.__contactEvents.push(e.detail));
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

test('Alice and Bob meet through an invitation and exchange 20 messages each way', async () => {
  const alice = await person('Alice');
  const bob = await person('Bob');

  const link = await alice.page.evaluate(() => window.__me.createInvitation());
  assert.ok(link.startsWith(`${dev.url.replace(/\/$/, '')}/#/invite/`), link);
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
  assert.deepEqual(bobsContacts[0], { id: bobsAlice.id, displayName: 'Alice', disappearingSeconds: 0 });
  const alicesBob = alicesContacts[0];
  assert.deepEqual(Object.keys(alicesBob).sort(), ['disappearingSeconds', 'displayName', 'id']);
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
  const history = await bob.page.evaluate((id) => window.__me.messages(id, { limit: 50 }), bobsAlice.id);
  assert.equal(history.length, 2 * MESSAGES);
  assert.deepEqual(history.filter((m) => m.outgoing).map((m) => m.text), fromBob);
  assert.deepEqual(history.filter((m) => !m.outgoing).map((m) => m.text), fromAlice);
  const page5 = await bob.page.evaluate((id) => window.__me.messages(id, { limit: 5 }), bobsAlice.id);
  assert.deepEqual(page5.map((m) => m.id), history.slice(-5).map((m) => m.id));

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

  const garbled = `${dev.url.replace(/\/$/, '')}/#/invite/this-is-not*an~invitation`;
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

  await carol.page.evaluate(() => window.__me.close());
  assert.deepEqual(await codeOf('createInvitation', []),
    { name: 'SottoError', code: 'CLOSED', isError: true });
  assert.deepEqual(carol.errors, []);
  await carol.context.close();
});
