// Verifying a contact (issue 12, part 6): both sides of a conversation see one security code;
// a wrong code rejects CODE_MISMATCH and changes nothing; the right one (scanned QR text or
// typed digits) marks the contact verified, across a reopen of a saved profile; and in the PWA
// a person compares codes in the conversation's Verify panel and sees the Verified mark.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useNetwork, openSotto, openPage, call, pwaPerson, meetInPwa } from './harness.mjs';

const net = useNetwork({ httpPort: 18200, wsBasePort: 20501 });

/// A page in `context` with the library open as `window.__me` (options as `Sotto.open` takes them).
async function person(context, options) {
  const page = await openPage(net, context);
  assert.deepEqual(await openSotto(page, options), { ok: true });
  return page;
}

test('one code on both sides; a wrong one is refused, the right one verifies, and it is kept', async () => {
  const aliceContext = await net.browser.newContext({ serviceWorkers: 'block' });
  const bobContext = await net.browser.newContext({ serviceWorkers: 'block' });
  const alice = await person(aliceContext, { storage: 'memory', displayName: 'Alice' });
  let bob = await person(bobContext, { storage: 'indexeddb', profile: 'bob', displayName: 'Bob' });

  const { value: link } = await call(alice, 'createInvitation');
  const { value: aliceAtBob } = await call(bob, 'acceptInvitation', [link]);
  assert.equal(aliceAtBob.verified, false);
  await alice.waitForFunction(() => window.__contactEvents.length > 0, null, { timeout: 30_000 });
  const [bobAtAlice] = (await call(alice, 'contacts')).value;

  const alices = (await call(alice, 'securityCode', [bobAtAlice.id])).value;
  const bobs = (await call(bob, 'securityCode', [aliceAtBob.id])).value;
  assert.match(alices.digits, /^(\d{5} ){11}\d{5}$/);
  assert.equal(alices.qr, `sotto-code:${alices.digits.replaceAll(' ', '')}`);
  assert.match(alices.svg, /<svg/);
  assert.equal(alices.digits, bobs.digits, 'one handshake, one code');

  // A wrong code: refused, nothing changes.
  const last = alices.qr.at(-1) === '0' ? '1' : '0';
  const wrong = await call(bob, 'verifyContact', [aliceAtBob.id, alices.qr.slice(0, -1) + last]);
  assert.equal(wrong.error?.name, 'SottoError');
  assert.equal(wrong.error?.code, 'CODE_MISMATCH');
  assert.equal((await call(bob, 'contacts')).value[0].verified, false);
  const unknown = await call(bob, 'verifyContact', ['999', alices.qr]);
  assert.equal(unknown.error?.code, 'UNKNOWN_CONTACT');

  // Bob scans Alice's QR code, Alice types Bob's digits.
  assert.deepEqual(await call(bob, 'verifyContact', [aliceAtBob.id, alices.qr]), { value: undefined });
  assert.deepEqual(await call(alice, 'verifyContact', [bobAtAlice.id, bobs.digits]), { value: undefined });
  assert.equal((await call(bob, 'contacts')).value[0].verified, true);
  assert.equal((await call(alice, 'contacts')).value[0].verified, true);
  await bob.waitForFunction(() => window.__contactEvents.some((c) => c.verified === true));

  // Bob's saved profile, reopened: still verified, and no warning.
  await call(bob, 'close');
  await bob.close();
  bob = await person(bobContext, { storage: 'indexeddb', profile: 'bob' });
  const [reopened] = (await call(bob, 'contacts')).value;
  assert.equal(reopened.verified, true);
  assert.deepEqual(await bob.evaluate(() => window.__contactEvents.filter((c) => c.warning)), []);

  // Unverify takes the mark off.
  assert.deepEqual(await call(bob, 'unverifyContact', [reopened.id]), { value: undefined });
  assert.equal((await call(bob, 'contacts')).value[0].verified, false);
  await aliceContext.close();
  await bobContext.close();
});

test('PWA: the Verify panel shows the code and marks the contact verified', async () => {
  const people = [];
  for (const name of ['Alice', 'Bob']) people.push(await pwaPerson(net, name));
  const [alice, bob] = people;
  await meetInPwa(alice, bob);

  for (const p of people) await p.page.getByRole('button', { name: 'Verify' }).click();
  const codeOf = async (p) => {
    await p.page.waitForFunction(() => document.getElementById('verify-digits').textContent.length === 71);
    return p.page.getByTestId('security-code').textContent();
  };
  const alicesCode = await codeOf(alice);
  assert.equal(await codeOf(bob), alicesCode, 'both screens show one code');
  assert.ok(await bob.page.getByRole('img', { name: /QR code of your security code/ }).isVisible());
  assert.ok(await bob.page.locator('#conv-verified').isHidden());

  // A mistyped code: a clear error, no mark.
  const field = bob.page.getByRole('textbox', { name: /Their code/ });
  await field.fill(alicesCode.replace(/\d$/, (d) => String((Number(d) + 1) % 10)));
  await bob.page.getByRole('button', { name: 'Compare' }).click();
  await bob.page.getByRole('alert').filter({ hasText: 'These codes differ' }).waitFor();
  assert.ok(await bob.page.locator('#conv-verified').isHidden());

  // The code Alice reads out: verified.
  await field.fill(alicesCode);
  await bob.page.getByRole('button', { name: 'Compare' }).click();
  await bob.page.getByRole('status').filter({ hasText: 'The codes match' }).waitFor();
  assert.ok(await bob.page.locator('#conv-verified').isVisible());
  await bob.page.getByRole('button', { name: 'Remove the verified mark' }).click();
  await bob.page.locator('#conv-verified').waitFor({ state: 'hidden' });
  for (const p of people) {
    assert.deepEqual(p.errors, []);
    await p.context.close();
  }
});
