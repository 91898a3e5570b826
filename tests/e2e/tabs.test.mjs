// One writer per profile, through the public API of pkg/sotto.js: two pages of one browser
// context open the same saved profile. The second gets PROFILE_IN_USE and loads nothing;
// `takeOver` moves the profile there and the first stops; after both close and the profile
// opens again, messages flow both ways with a contact in another context, each exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useNetwork, openSotto as openOn, contactsOf, untilContacts, untilReceived } from './harness.mjs';

const net = useNetwork({ httpPort: 18140, wsBasePort: 19901 });

async function pageIn(context) {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('pageerror:', e.message));
  await page.goto(net.url);
  return page;
}

const send = (page, contactId, text) => page.evaluate(
  ({ contactId, text }) => window.__me.send(contactId, text), { contactId, text });

test('one saved profile has one writer: a second tab is refused, takeOver moves it', async () => {
  const profile = { storage: 'indexeddb', profile: 'tabs', passphrase: 'tab secret', displayName: 'Alice' };
  const aliceContext = await net.browser.newContext({ serviceWorkers: 'block' });
  const bobContext = await net.browser.newContext({ serviceWorkers: 'block' });
  const tab1 = await pageIn(aliceContext);
  const bob = await pageIn(bobContext);
  assert.deepEqual(await openOn(tab1, profile), { ok: true });
  assert.deepEqual(await openOn(bob, { storage: 'indexeddb', profile: 'bob', displayName: 'Bob' }), { ok: true });

  const link = await tab1.evaluate(() => window.__me.createInvitation());
  const bobsAlice = await bob.evaluate((l) => window.__me.acceptInvitation(l), link);
  await untilContacts(tab1, (cs) => cs.some((c) => c.displayName === 'Bob'));
  await untilContacts(bob, (cs) => cs.some((c) => c.displayName === 'Alice'));
  const alicesBob = (await contactsOf(tab1))[0];
  await send(tab1, alicesBob.id, 'from tab 1');
  await untilReceived(bob, ['from tab 1']);

  // A second tab of the same browser: refused, and nothing is loaded there.
  const tab2 = await pageIn(aliceContext);
  const refused = await openOn(tab2, profile);
  assert.equal(refused.code, 'PROFILE_IN_USE', JSON.stringify(refused));
  assert.equal(await tab2.evaluate(() => window.__me), null);
  // The first tab is untouched.
  assert.deepEqual(await tab1.evaluate(() => window.__errors), []);
  await send(tab1, alicesBob.id, 'still tab 1');
  await untilReceived(bob, ['from tab 1', 'still tab 1']);

  // "Use here instead": the second tab takes the profile over; the first stops at once.
  assert.deepEqual(await openOn(tab2, { ...profile, takeOver: true }), { ok: true });
  await tab1.waitForFunction(() => window.__errors.length > 0, null, { timeout: 10_000 });
  assert.deepEqual(await tab1.evaluate(() => window.__errors), [{ what: 'profile', code: 'PROFILE_IN_USE' }]);
  const stopped = await tab1.evaluate((id) => window.__me.send(id, 'stale tab 1').then(() => 'sent', (e) => e.code), alicesBob.id);
  assert.equal(stopped, 'CLOSED', 'the tab that lost the profile sends nothing more');
  assert.deepEqual(await contactsOf(tab2), [alicesBob], 'the second tab loaded the profile');
  await send(tab2, alicesBob.id, 'from tab 2');
  await untilReceived(bob, ['from tab 1', 'still tab 1', 'from tab 2']);
  await send(bob, bobsAlice.id, 'to tab 2');
  await untilReceived(tab2, ['to tab 2']);

  // Both close; the profile opens again (in the first tab) and the conversation goes on.
  await tab2.evaluate(() => window.__me.close());
  await tab1.evaluate(() => window.__me.close());
  await tab1.reload();
  assert.deepEqual(await openOn(tab1, profile), { ok: true });
  await bob.evaluate(() => { window.__received = []; });
  const toBob = ['after reopening #1', 'after reopening #2'];
  const toAlice = ['to Alice again #1', 'to Alice again #2'];
  for (const t of toBob) await send(tab1, alicesBob.id, t);
  for (const t of toAlice) await send(bob, bobsAlice.id, t);
  await untilReceived(bob, toBob);
  await untilReceived(tab1, toAlice);
  assert.deepEqual(await tab1.evaluate(() => window.__errors), []);
  assert.deepEqual(await bob.evaluate(() => window.__errors), []);

  await aliceContext.close();
  await bobContext.close();
});

test('the PWA offers "Use here instead", and the tab that lost the profile says so', async () => {
  const context = await net.browser.newContext({ serviceWorkers: 'block' });
  const first = await pageIn(context);
  await first.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  await first.getByRole('textbox', { name: 'Display name' }).fill('Tess');
  await first.getByRole('button', { name: 'Save on this device' }).click();
  await first.getByRole('button', { name: 'New chat' }).waitFor({ timeout: 30_000 });

  // A second tab finds the saved profile (no passphrase: it opens at once) in use.
  const second = await pageIn(context);
  await second.getByRole('alert').filter({ hasText: 'This profile is open in another tab or window.' })
    .waitFor({ timeout: 30_000 });
  await second.getByRole('button', { name: 'Use here instead' }).click();
  await second.getByRole('button', { name: 'New chat' }).waitFor({ timeout: 30_000 });
  assert.equal(await second.locator('#me-name').textContent(), 'Tess');

  await first.waitForSelector('body[data-taken-over="true"]', { timeout: 10_000 });
  await first.getByText('This profile is now open in another tab or window; this one stopped.').waitFor();
  await context.close();
});
