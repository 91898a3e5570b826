// Verifying a contact (issue 12, part 6): both sides of a conversation see one security code;
// a wrong code rejects CODE_MISMATCH and changes nothing; the right one (scanned QR text or
// typed digits) marks the contact verified, across a reopen of a saved profile; and in the PWA
// a person compares codes in the conversation's Verify panel and sees the Verified mark.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDev, launchBrowser } from './harness.mjs';

let dev;
let browser;

before(async () => {
  dev = await startDev({ httpPort: 18200, wsBasePort: 20501 });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (dev) assert.equal(await dev.stop(), 0, 'sotto-relay dev exits 0 on SIGTERM');
});

/// A page with the library open as `window.__me` (options as `Sotto.open` takes them).
async function person(context, options) {
  const page = await context.newPage();
  await page.goto(dev.url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  await page.evaluate(async (options) => {
    const mod = await import('/pkg/sotto.js');
    await mod.default();
    window.__contactEvents = [];
    window.__me = await mod.Sotto.open({ ...options, directoryUrl: `${location.origin}/directory.json`, ...(await (await fetch('/config.json')).json()) });
    window.__me.addEventListener('contact', (e) => window.__contactEvents.push(e.detail));
  }, options);
  return page;
}

const call = (page, method, args = []) => page.evaluate(async ({ method, args }) => {
  try {
    return { value: await window.__me[method](...args) };
  } catch (e) {
    return { error: { name: e.name, code: e.code, message: e.message } };
  }
}, { method, args });

test('one code on both sides; a wrong one is refused, the right one verifies, and it is kept', async () => {
  const aliceContext = await browser.newContext({ serviceWorkers: 'block' });
  const bobContext = await browser.newContext({ serviceWorkers: 'block' });
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
  for (const name of ['Alice', 'Bob']) {
    const context = await browser.newContext({ serviceWorkers: 'block' });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(dev.url);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
    await page.getByRole('textbox', { name: 'Display name' }).fill(name);
    await page.getByRole('button', { name: 'Use without saving' }).click();
    await page.getByRole('button', { name: 'End session' }).waitFor({ timeout: 30_000 });
    people.push({ context, page, errors });
  }
  const [alice, bob] = people;
  await alice.page.getByRole('button', { name: 'New chat' }).click();
  await alice.page.getByRole('button', { name: 'Create invitation' }).click();
  await alice.page.waitForFunction(
    () => document.getElementById('invite-link-out').value.includes('#/invite/'), null, { timeout: 30_000 });
  const link = await alice.page.getByRole('textbox', { name: 'Invitation link' }).inputValue();
  await bob.page.getByRole('button', { name: 'New chat' }).click();
  await bob.page.getByRole('button', { name: 'Paste invitation' }).click();
  await bob.page.getByRole('textbox', { name: 'Invitation link' }).fill(link);
  await bob.page.getByRole('button', { name: 'Connect' }).click();
  await bob.page.getByRole('heading', { name: 'Alice' }).waitFor({ timeout: 30_000 });
  await alice.page.locator('.chat-name', { hasText: 'Bob' }).waitFor({ timeout: 30_000 });
  await alice.page.getByRole('button').filter({ has: alice.page.locator('.chat-name', { hasText: 'Bob' }) }).click();
  await alice.page.getByRole('heading', { name: 'Bob' }).waitFor();

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
