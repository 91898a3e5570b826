// A burst of messages in the PWA (issue 15, "never block the page"): 200 messages from a peer
// arrive while their conversation is open. Every one is shown once, in the order sent, the log
// stays at its end, and the burst goes into the log as whole batches (a frame's worth at a time,
// built apart), not as one insertion and layout per message. The page uses the PWA as shipped
// (the library in its worker); Bob is a page with `Sotto` from /pkg/sotto.js. Then (issue 18,
// several messages in one ratchet message) two 'indexeddb' profiles send each other a burst of
// 200 at once: every send() resolves with its own id, and each side gets the other's once each,
// in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acquaint, call, person, pwaPerson, untilReceived, useNetwork } from './harness.mjs';

const BURST = 200;

const net = useNetwork({ httpPort: 18480, wsBasePort: 30000 });

test('a burst of 200 messages is shown whole, in order, once, in batches, scrolled to the end', async () => {
  const alice = await pwaPerson(net, 'Alice', { consoleErrors: true });
  const bob = await person(net, { displayName: 'Bob' });
  const { page } = alice;

  await page.getByRole('button', { name: 'New chat' }).click();
  await page.getByRole('button', { name: 'Create invitation' }).click();
  await page.waitForFunction(() => document.getElementById('invite-link-out').value.includes('#/invite/'), null, { timeout: 30_000 });
  const link = await page.getByRole('textbox', { name: 'Invitation link' }).inputValue();
  const accepted = await call(bob.page, 'acceptInvitation', [link]);
  assert.ok(accepted.value, JSON.stringify(accepted.error));
  const bobsAlice = accepted.value.id;
  await page.locator('.chat-name', { hasText: 'Bob' }).waitFor({ timeout: 30_000 });
  await page.getByRole('button').filter({ has: page.locator('.chat-name', { hasText: 'Bob' }) }).click();
  await page.getByRole('heading', { name: 'Bob' }).waitFor();

  // Count the insertions into the log from here on: one record per insertion of nodes.
  await page.evaluate(() => {
    window.__insertions = 0;
    window.__bubblesInserted = 0;
    new MutationObserver((records) => {
      for (const r of records) {
        if (!r.addedNodes.length) continue;
        window.__insertions += 1;
        for (const n of r.addedNodes) {
          if (n.nodeType === 1 && n.classList.contains('bubble')) window.__bubblesInserted += 1;
        }
      }
    }).observe(document.querySelector('[role="log"]'), { childList: true });
  });

  const texts = Array.from({ length: BURST }, (_, i) => `burst ${i}`);
  // Sent at once (the library keeps the order of the calls), so that they arrive as a burst.
  await bob.page.evaluate(({ id, texts }) => Promise.all(texts.map((t) => window.__me.send(id, t))),
    { id: bobsAlice, texts });

  const shown = () => page.getByRole('log').locator('.bubble .text').allTextContents();
  await page.waitForFunction((n) => document.querySelectorAll('[role="log"] .bubble .text').length >= n, BURST,
    { timeout: 120_000, polling: 250 });
  // Let a duplicate or a late redraw show, if there were one.
  await page.waitForTimeout(1500);
  assert.deepEqual(await shown(), texts, 'every message once, in the order sent');

  const { insertions, bubblesInserted } = await page.evaluate(() => ({ insertions: window.__insertions, bubblesInserted: window.__bubblesInserted }));
  assert.equal(bubblesInserted, BURST, 'each bubble inserted once');
  assert.ok(insertions < BURST, `the burst went in as batches (${insertions} insertions for ${BURST} messages)`);

  // The log followed the burst to its end; the chat list shows the last message, nothing unread.
  const gap = await page.getByRole('log').evaluate((log) => log.scrollHeight - log.scrollTop - log.clientHeight);
  assert.ok(gap < 80, `the log is at its end (${gap} px from it)`);
  const item = page.getByRole('button').filter({ has: page.locator('.chat-name', { hasText: 'Bob' }) });
  assert.equal(await item.locator('.chat-last').textContent(), `burst ${BURST - 1}`);
  assert.equal(await item.locator('.unread').count(), 0);
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
  await bob.context.close();
  await alice.context.close();
});

test('bursts of 200 both ways between two stored profiles: every send resolves, all arrive in order', async () => {
  const alice = await person(net, { storage: 'indexeddb', profile: 'alice', passphrase: 'a', displayName: 'Alice' });
  const bob = await person(net, { storage: 'indexeddb', profile: 'bob', passphrase: 'b', displayName: 'Bob' });
  const { alicesBob, bobsAlice } = await acquaint(alice, bob);
  const a = Array.from({ length: BURST }, (_, i) => `a${i}`);
  const b = Array.from({ length: BURST }, (_, i) => `b${i}`);
  // Every send() of a burst handed over in one turn of each page; each resolves (or the
  // evaluate rejects) once a relay stored its message.
  const burst = (page, id, texts) => page.evaluate(({ id, texts }) => Promise.all(texts.map((t) => window.__me.send(id, t)))
    .then((sent) => sent.map((m) => m.id)), { id, texts });
  const [fromAlice, fromBob] = await Promise.all([burst(alice.page, alicesBob.id, a), burst(bob.page, bobsAlice.id, b)]);
  assert.equal(new Set(fromAlice).size, BURST, 'each of Alice\'s sends resolved with its own id');
  assert.equal(new Set(fromBob).size, BURST, 'each of Bob\'s sends resolved with its own id');
  await untilReceived(bob.page, a, 120_000);
  await untilReceived(alice.page, b, 120_000);
  assert.deepEqual(
    await bob.page.evaluate(() => window.__received.map((m) => m.id)), fromAlice, 'Bob got them under the ids Alice was given');
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
  await bob.context.close();
  await alice.context.close();
});
