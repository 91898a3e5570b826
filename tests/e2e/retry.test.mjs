// Refused sends settle and are retried as the same message (issue 14, case 8), through the
// public API and through the PWA's Retry button; and a file whose upload a relay refused is
// retried the same way, through the API and the PWA. The relays hold 4 messages a queue and 2
// blob chunks each, kept 12 s: a fifth message to a contact who is away is refused
// (RELAY_FULL); a second file on a relay that holds one already is refused, and fits once the
// first has expired.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useNetwork, serviceConfig, person, openSotto, call, acquaint, untilContacts, untilReceived,
  until, pwaPerson, meetInPwa,
} from './harness.mjs';

const QUOTA = 4;
const BLOB_TTL_SECS = 12;
const net = useNetwork({
  httpPort: 18360,
  wsBasePort: 24000,
  extraArgs: ['--service-config', serviceConfig(
    `queue_quota = ${QUOTA}\nmax_blob_chunks_total = 2\nblob_ttl_secs = ${BLOB_TTL_SECS}\n`)],
});

/// A person in the PWA who keeps the profile on the device (no passphrase: it opens again at
/// once on a reload).
async function savedPwaPerson(name) {
  const p = await person(net, null);
  await p.page.getByRole('textbox', { name: 'Display name' }).fill(name);
  await p.page.getByRole('button', { name: 'Save on this device' }).click();
  await p.page.getByRole('button', { name: 'New chat' }).waitFor({ timeout: 30_000 });
  return p;
}

/// Each text handed to send() at once: `{value}` or `{error}` per text, in order.
const sendAll = (page, contactId, texts) => page.evaluate(({ contactId, texts }) => Promise.all(
  texts.map((t) => window.__me.send(contactId, t).then(
    (value) => ({ value }),
    (e) => ({ error: { name: e.name, code: e.code, message: e.message, messageId: e.messageId } }),
  ))), { contactId, texts });

const outgoing = async (page, contactId) =>
  (await call(page, 'messages', [contactId])).value.filter((m) => m.outgoing);

/// Retries `id` until it is stored: resolved with the same id, or stored meanwhile by the
/// outbox's own back-off (then `retry` has nothing to send: INVALID_ARGUMENT). Gives the
/// results of the retries, in order.
async function retryUntilStored(page, id, timeoutMs = 60_000) {
  const results = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await call(page, 'retry', [id]);
    results.push(r);
    if (r.value || r.error?.code === 'INVALID_ARGUMENT') return results;
    assert.equal(r.error?.messageId, id, `a refused retry names its message: ${JSON.stringify(r)}`);
    if (Date.now() > deadline) throw new Error(`not stored: ${JSON.stringify(results)}`);
    await new Promise((res) => setTimeout(res, 500));
  }
}

test('a refused send settles RELAY_FULL; retry() resends the same message, once, and it arrives', async () => {
  const alice = await person(net, { storage: 'memory', displayName: 'Alice' });
  const bob = await person(net, { storage: 'indexeddb', profile: 'bob', displayName: 'Bob' });
  const { alicesBob, bobsAlice } = await acquaint(alice, bob);

  // Bob is away: his queue fills up. The texts are long, so that each fills a message alone
  // (short ones handed over at once would leave several to a message, issue 18).
  await bob.page.evaluate(() => window.__me.close());
  const texts = Array.from({ length: QUOTA + 1 }, (_, i) => `while away #${i} ${'x'.repeat(2_000)}`);
  const results = await sendAll(alice.page, alicesBob.id, texts);
  assert.ok(results.slice(0, QUOTA).every((r) => r.value?.id), JSON.stringify(results));
  const refused = results[QUOTA].error;
  assert.equal(refused?.name, 'SottoError', JSON.stringify(results[QUOTA]));
  assert.equal(refused.code, 'RELAY_FULL');
  assert.match(refused.messageId, /^[0-9a-f]{32}$/);
  const records = await outgoing(alice.page, alicesBob.id);
  assert.deepEqual(records.map((m) => m.text), texts);
  assert.equal(records.at(-1).id, refused.messageId);
  assert.equal(records.at(-1).status, 'failed');

  // Retried while the queue is still full: refused again, settled, the same message.
  const again = await call(alice.page, 'retry', [refused.messageId]);
  assert.equal(again.error?.code, 'RELAY_FULL', JSON.stringify(again));
  assert.equal(again.error.messageId, refused.messageId);
  assert.deepEqual((await outgoing(alice.page, alicesBob.id)).map((m) => m.id), records.map((m) => m.id),
    'no second record');

  // Bob is back and drains his queue; the retry is stored, under the same id.
  assert.deepEqual(await openSotto(bob.page, bob.options), { ok: true });
  const retried = await retryUntilStored(alice.page, refused.messageId);
  const last = retried.at(-1);
  if (last.value) assert.equal(last.value.id, refused.messageId);
  await untilReceived(bob.page, texts);
  const after = await outgoing(alice.page, alicesBob.id);
  assert.deepEqual(after.map((m) => m.id), records.map((m) => m.id), 'one record per message');
  assert.ok(after.every((m) => m.status === 'sent'), JSON.stringify(after.map((m) => m.status)));

  // The conversation goes on both ways.
  assert.ok((await call(bob.page, 'send', [bobsAlice.id, 'back again'])).value);
  await untilReceived(alice.page, ['back again']);
  await bob.page.evaluate(() => window.__me.wipe());
  for (const p of [alice, bob]) {
    assert.deepEqual(p.errors, []);
    await p.context.close();
  }
});

test('the PWA: a refused message shows Not sent; Retry sends the same one, with no copy', async () => {
  const alice = await savedPwaPerson('Alice');
  const bob = await person(net, { storage: 'indexeddb', profile: 'bob-pwa', displayName: 'Bob' });
  await alice.page.getByRole('button', { name: 'New chat' }).click();
  await alice.page.getByRole('button', { name: 'Create invitation' }).click();
  await alice.page.waitForFunction(
    () => document.getElementById('invite-link-out').value.includes('#/invite/'), null, { timeout: 30_000 });
  const link = await alice.page.getByRole('textbox', { name: 'Invitation link' }).inputValue();
  const accepted = await call(bob.page, 'acceptInvitation', [link]);
  assert.ok(accepted.value, JSON.stringify(accepted));
  await untilContacts(bob.page, (cs) => cs[0]?.displayName === 'Alice');
  const chat = alice.page.getByRole('button').filter({ has: alice.page.locator('.chat-name', { hasText: 'Bob' }) });
  await chat.waitFor({ timeout: 30_000 });
  await chat.click();
  await alice.page.getByRole('heading', { name: 'Bob' }).waitFor();

  await bob.page.evaluate(() => window.__me.close());
  const texts = Array.from({ length: QUOTA + 1 }, (_, i) => `typed while away #${i}`);
  const box = alice.page.getByRole('textbox', { name: 'Message' });
  const bubbles = alice.page.getByRole('log').locator('.bubble');
  for (const [i, t] of texts.entries()) {
    await box.fill(t);
    await box.press('Enter');
    // One at a time, as a person types: each is stored before the next is written.
    if (i < QUOTA) await bubbles.filter({ hasText: t }).and(alice.page.locator('[data-state="sent"]')).waitFor({ timeout: 30_000 });
  }
  const failed = bubbles.filter({ hasText: texts[QUOTA] });
  await failed.and(alice.page.locator('[data-state="failed"]')).waitFor({ timeout: 30_000 });
  assert.equal(await failed.locator('.state').textContent(), 'Not sent');

  // Retry while the queue is still full: refused again, still one bubble for it.
  await failed.getByRole('button', { name: 'Retry' }).click();
  await failed.and(alice.page.locator('[data-state="failed"]')).waitFor({ timeout: 30_000 });
  assert.equal(await bubbles.count(), texts.length, 'Retry adds no bubble');

  // Bob comes back; Retry (or the outbox's own back-off) stores it.
  assert.deepEqual(await openSotto(bob.page, bob.options), { ok: true });
  await until(async () => {
    const state = await failed.getAttribute('data-state');
    if (state === 'failed') await failed.getByRole('button', { name: 'Retry' }).click().catch(() => {});
    return state;
  }, (state) => state === 'sent', 60_000);
  await untilReceived(bob.page, texts);
  assert.equal(await bubbles.count(), texts.length);

  // What is stored: after a reload, the conversation drawn from the library has each once.
  await alice.page.reload();
  await chat.waitFor({ timeout: 30_000 });
  await chat.click();
  await alice.page.getByRole('heading', { name: 'Bob' }).waitFor();
  await until(() => alice.page.getByRole('log').locator('.bubble .text').allTextContents(),
    (shown) => JSON.stringify(shown) === JSON.stringify(texts));
  await bob.page.evaluate(() => window.__me.wipe());
  for (const p of [alice, bob]) {
    assert.deepEqual(p.errors, []);
    await p.context.close();
  }
});

test('a file whose upload a relay refused is retried as the same message and arrives', async () => {
  const alice = await person(net, { storage: 'memory', displayName: 'Alice' });
  const bob = await person(net, { storage: 'memory', displayName: 'Bob' });
  const { alicesBob } = await acquaint(alice, bob);
  // Two chunks each: a relay holds one such file; the next one sent there is refused.
  const sendFile = (n) => alice.page.evaluate(async ({ id, n }) => {
    const data = new Uint8Array(5_000).map((_, i) => (i * 31 + n) % 256);
    try {
      const sent = await window.__me.sendFile(id, new File([data], `part-${n}.bin`, { type: 'application/octet-stream' }));
      return { value: sent };
    } catch (e) {
      return { error: { name: e.name, code: e.code, message: e.message, messageId: e.messageId } };
    }
  }, { id: alicesBob.id, n });
  let refused;
  let n = 0;
  for (; n < 8 && !refused; n += 1) {
    const r = await sendFile(n);
    if (r.error) refused = r.error;
  }
  assert.ok(refused, 'a relay that holds a file refuses the next one');
  assert.equal(refused.code, 'RELAY_FULL', JSON.stringify(refused));
  assert.match(refused.messageId ?? '', /^[0-9a-f]{32}$/, JSON.stringify(refused));
  const failedN = n - 1;
  const before = await outgoing(alice.page, alicesBob.id);
  assert.equal(before.at(-1).id, refused.messageId);
  assert.equal(before.at(-1).status, 'failed');
  assert.equal(before.at(-1).attachment.name, `part-${failedN}.bin`);

  // The relays have room again once what they hold expired; retry() uploads it again.
  await new Promise((r) => setTimeout(r, (BLOB_TTL_SECS + 3) * 1000));
  const retried = await retryUntilStored(alice.page, refused.messageId);
  assert.equal(retried.at(-1).value?.id, refused.messageId, JSON.stringify(retried));
  const after = await outgoing(alice.page, alicesBob.id);
  assert.deepEqual(after.map((m) => m.id), before.map((m) => m.id), 'no second record');
  assert.equal(after.at(-1).status, 'sent');

  // Bob receives it once, whole.
  await bob.page.waitForFunction((id) => window.__received.some((m) => m.id === id), refused.messageId, { timeout: 60_000 });
  const got = await until(() => bob.page.evaluate(async (id) => {
    const blob = await window.__me.attachment(id);
    return blob ? Array.from(new Uint8Array(await blob.arrayBuffer())) : null;
  }, refused.messageId), (bytes) => bytes !== null, 60_000);
  const expected = Array.from({ length: 5_000 }, (_, i) => (i * 31 + failedN) % 256);
  assert.deepEqual(got, expected);
  const names = await bob.page.evaluate(() => window.__received.map((m) => m.attachment?.name));
  assert.deepEqual(names, Array.from({ length: n }, (_, i) => `part-${i}.bin`), 'each file once, in order');
  for (const p of [alice, bob]) {
    assert.deepEqual(p.errors, []);
    await p.context.close();
  }
});

test('the PWA: a file a relay refused shows Not sent; Retry uploads the same one, with no copy', async () => {
  const alice = await savedPwaPerson('Alice');
  const bob = await pwaPerson(net, 'Bob');
  await meetInPwa(alice, bob);
  // Let what earlier tests stored expire, so that each relay has room for one file.
  await new Promise((r) => setTimeout(r, (BLOB_TTL_SECS + 2) * 1000));
  const bubbles = alice.page.getByRole('log').locator('.bubble');
  const stateOf = (name) => bubbles.filter({ hasText: name }).getAttribute('data-state');
  let failed;
  let n = 0;
  for (; n < 8 && !failed; n += 1) {
    const name = `part-${n}.bin`;
    await alice.page.locator('#file-input').setInputFiles({
      name, mimeType: 'application/octet-stream', buffer: Buffer.alloc(5_000, n),
    });
    const state = await until(() => stateOf(name), (s) => s === 'sent' || s === 'failed', 60_000);
    if (state === 'failed') failed = name;
  }
  assert.ok(failed, 'a relay that holds a file refuses the next one');
  const bubble = bubbles.filter({ hasText: failed });
  assert.equal(await bubble.locator('.state').textContent(), 'Not sent');

  // Once the relays have room again, Retry uploads the same message.
  await new Promise((r) => setTimeout(r, (BLOB_TTL_SECS + 3) * 1000));
  await bubble.getByRole('button', { name: 'Retry' }).click();
  await until(() => stateOf(failed), (s) => s === 'sent', 60_000);
  assert.equal(await bubbles.count(), n, 'Retry adds no bubble');
  await bob.page.getByRole('link', { name: `Download ${failed}` }).waitFor({ timeout: 60_000 });
  await new Promise((r) => setTimeout(r, 1_500));
  assert.equal(await bob.page.getByRole('link', { name: `Download ${failed}` }).count(), 1, 'it arrives once');

  // What is stored: after a reload, the conversation has each file once, all sent.
  await alice.page.reload();
  const chat = alice.page.getByRole('button').filter({ has: alice.page.locator('.chat-name', { hasText: 'Bob' }) });
  await chat.click({ timeout: 30_000 });
  await alice.page.getByRole('heading', { name: 'Bob' }).waitFor();
  await until(() => bubbles.evaluateAll((bs) => bs.map((b) => b.dataset.state)),
    (states) => states.length === n && states.every((st) => st === 'sent'));
  for (const p of [alice, bob]) {
    assert.deepEqual(p.errors, []);
    await p.context.close();
  }
});
