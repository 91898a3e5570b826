// A device whose clock is wrong (issue 13, "Rotation and clocks"): the page's Date is shifted
// before the app loads (+15 minutes, then -8 days). Relays refuse its first queue creation and
// say their time; the library corrects for it at once, so the skewed page creates an
// invitation, a page with the right clock accepts it, and they exchange messages both ways.
// The library's `clock` event fires once, and the PWA shows "This device's clock is … off".
// The protocol side (bounds, one retry, persistence) is covered in virtual time by
// crates/sotto-proto/tests/clock.rs. The PWA's library runs on the page here (`pwaPerson`'s
// `initScript`), where the shifted Date reaches it; Playwright's init scripts miss workers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useNetwork, openPage, pwaPerson, artifactPath } from './harness.mjs';

const net = useNetwork({ httpPort: 18180, wsBasePort: 20301 });

/// Runs before any script of the page: `Date.now()` and `new Date()` are `shiftMs` off.
function shiftClock(shiftMs) {
  const RealDate = Date;
  class ShiftedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + shiftMs);
      else super(...args);
    }
    static now() { return RealDate.now() + shiftMs; }
  }
  globalThis.Date = ShiftedDate;
}

/// A person in the PWA, kiosk mode; `shiftMs` moves their device clock.
async function person(name, shiftMs = 0) {
  const p = await pwaPerson(net, name, { initScript: shiftMs ? [shiftClock, shiftMs] : null });
  p.page.on('pageerror', (e) => console.error(`${name}: ${e.message}`));
  return p;
}

const chatButton = (page, name) => page.getByRole('button')
  .filter({ has: page.locator('.chat-name', { hasText: name }) });

async function send(page, text) {
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill(text);
  await box.press('Enter');
}

async function waitForText(page, text) {
  await page.getByRole('log').locator('.bubble .text', { hasText: text }).waitFor({ timeout: 45_000 });
}

for (const [label, shiftMs, shown] of [
  ['15 minutes fast', 15 * 60_000, /This device's clock is 15 minutes off \(fast\)/],
  ['8 days slow', -8 * 86_400_000, /This device's clock is 8 days off \(slow\)/],
]) {
  test(`a device ${label} makes an invitation, is told so once, and chats`, async () => {
    const skewed = await person('Skewed', shiftMs);
    const right = await person('Right');
    assert.equal(
      Math.round((await skewed.page.evaluate(() => Date.now()) - Date.now()) / 60_000),
      Math.round(shiftMs / 60_000),
      'the init script shifted the page clock');

    // Creating the invitation: the first Create is refused with the relay's time, the
    // library corrects and retries at once, the link appears well within the 30 s bound.
    const started = Date.now();
    await skewed.page.getByRole('button', { name: 'New chat' }).click();
    await skewed.page.getByRole('button', { name: 'Create invitation' }).click();
    await skewed.page.waitForFunction(
      () => document.getElementById('invite-link-out').value.includes('#/invite/'), null, { timeout: 30_000 });
    assert.ok(Date.now() - started < 25_000, 'the invitation did not wait for a deadline');
    const link = await skewed.page.getByRole('textbox', { name: 'Invitation link' }).inputValue();

    // The PWA says so, clearly, and keeps saying it (not a six-second notice).
    const notice = skewed.page.locator('#clock-notice');
    await notice.waitFor({ state: 'visible', timeout: 10_000 });
    assert.match(await notice.textContent(), shown);
    await skewed.page.screenshot({ path: artifactPath(`clock-${shiftMs > 0 ? 'fast' : 'slow'}.png`) });
    assert.equal(await right.page.locator('#clock-notice').isVisible(), false, 'the right clock is not told');

    await right.page.getByRole('button', { name: 'New chat' }).click();
    await right.page.getByRole('button', { name: 'Paste invitation' }).click();
    await right.page.getByRole('textbox', { name: 'Invitation link' }).fill(link);
    await right.page.getByRole('button', { name: 'Connect' }).click();

    await skewed.page.locator('.chat-name', { hasText: 'Right' }).waitFor({ timeout: 30_000 });
    await chatButton(skewed.page, 'Right').click();
    await right.page.getByRole('heading', { name: 'Skewed' }).waitFor({ timeout: 30_000 });
    await send(skewed.page, 'from the wrong clock');
    await waitForText(right.page, 'from the wrong clock');
    await send(right.page, 'from the right clock');
    await waitForText(skewed.page, 'from the right clock');
    // Still shown, and still one sentence.
    assert.match(await notice.textContent(), shown);
    for (const p of [skewed, right]) await p.context.close();
  });
}

test('the library tells a skewed page once (clock event) and keeps creating invitations', async () => {
  const shiftMs = -3 * 3_600_000;
  const context = await net.browser.newContext({ serviceWorkers: 'block' });
  await context.addInitScript(shiftClock, shiftMs);
  const page = await openPage(net, context);
  const result = await page.evaluate(async () => {
    const mod = await import('/pkg/sotto.js');
    await mod.default();
    const events = [];
    const me = await mod.Sotto.open({
      storage: 'memory', displayName: 'Lib', directoryUrl: `${location.origin}/directory.json`, ...(await (await fetch('/config.json')).json()),
    });
    me.addEventListener('clock', (e) => events.push(e.detail));
    const links = [];
    for (let i = 0; i < 2; i += 1) {
      try { links.push(await me.createInvitation()); } catch (e) { links.push(`${e.code}: ${e.message}`); }
    }
    await me.close();
    return { events, links };
  });
  assert.ok(result.links.every((l) => l.includes('#/invite/')), JSON.stringify(result.links));
  assert.equal(result.events.length, 1, JSON.stringify(result.events));
  // The device is 3 hours slow: the library adds about 3 hours.
  assert.ok(Math.abs(result.events[0].offsetSeconds - 3 * 3600) < 30, JSON.stringify(result.events));
  await context.close();
});
