// The PWA as two new people use it, in two browser contexts, through a real dev network:
// welcome (use without saving) → New chat → an invitation link → Connect → 20 messages each way,
// typed in the Message box → End session, which (like closing the tab) leaves no IndexedDB, Cache
// Storage, service worker or localStorage behind. Only role locators with the accessible names of
// the accessibility contract. Screenshots at phone and desktop width land in
// tests/artifacts/. The saved profile (unlock, settings, offline, updates) is in
// pwa-profile.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useNetwork, artifactPath } from './harness.mjs';

const EACH_WAY = 20;
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

const net = useNetwork({ httpPort: 18100, wsBasePort: 19501 });

async function newPerson(viewport = DESKTOP, url = net.url, colorScheme = 'light') {
  const context = await net.browser.newContext({ viewport, colorScheme });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  return { context, page, errors };
}

async function useWithoutSaving(page, name) {
  await page.getByRole('textbox', { name: 'Display name' }).fill(name);
  await page.getByRole('button', { name: 'Use without saving' }).click();
  await page.getByRole('button', { name: 'End session' }).waitFor({ timeout: 30_000 });
  await page.getByText('Not saved on this device').waitFor();
}

/// The texts of the conversation's bubbles, in the order shown.
const logTexts = (page) => page.getByRole('log').locator('.bubble .text').allTextContents();

async function waitForLog(page, expected, timeout = 45_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const texts = await logTexts(page);
    if (expected.every((t) => texts.includes(t))) return texts;
    if (Date.now() > deadline) throw new Error(`timed out; log: ${JSON.stringify(texts)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('two people meet through an invitation in the PWA and chat, then end the session', async () => {
  const alice = await newPerson(DESKTOP);
  const bob = await newPerson(PHONE);

  await alice.page.getByRole('textbox', { name: 'Display name' }).waitFor();
  await alice.page.getByRole('textbox', { name: 'Passphrase (optional)' }).waitFor();
  await alice.page.screenshot({ path: artifactPath('pwa-welcome-desktop.png') });
  await bob.page.screenshot({ path: artifactPath('pwa-welcome-phone.png') });

  await Promise.all([useWithoutSaving(alice.page, 'Alice'), useWithoutSaving(bob.page, 'Bob')]);

  // Alice creates an invitation: a read-only link, a Copy link button and a QR code.
  await alice.page.getByRole('button', { name: 'New chat' }).click();
  await alice.page.getByRole('button', { name: 'Create invitation' }).click();
  const linkOut = alice.page.getByRole('textbox', { name: 'Invitation link' });
  await alice.page.waitForFunction(
    () => document.getElementById('invite-link-out').value.includes('#/invite/'), null, { timeout: 30_000 });
  const link = await linkOut.inputValue();
  assert.ok(link.startsWith(`${net.url.replace(/\/$/, '')}/#/invite/`), link);
  assert.equal(await linkOut.getAttribute('readonly'), '');
  await alice.page.getByRole('img', { name: 'QR code of the invitation link' }).waitFor();
  await alice.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: net.url });
  await alice.page.getByRole('button', { name: 'Copy link' }).click();
  await alice.page.getByText('Copied', { exact: true }).waitFor();
  await alice.page.screenshot({ path: artifactPath('pwa-invitation-desktop.png') });

  // Bob first pastes a garbled link and is told so, then the real one.
  await bob.page.getByRole('button', { name: 'New chat' }).click();
  await bob.page.getByRole('button', { name: 'Paste invitation' }).click();
  const linkIn = bob.page.getByRole('textbox', { name: 'Invitation link' });
  await linkIn.fill(`${net.url.replace(/\/$/, '')}/#/invite/not-an-invitation`);
  await bob.page.getByRole('button', { name: 'Connect' }).click();
  await bob.page.getByRole('alert').filter({ hasText: 'not valid or has expired' }).waitFor({ timeout: 10_000 });
  await linkIn.fill(link);
  await bob.page.getByRole('button', { name: 'Connect' }).click();

  // Each sees the other in the chat list once the names arrived.
  const chatButton = (page, name) => page.getByRole('button').filter({ has: page.locator('.chat-name', { hasText: name }) });
  await alice.page.locator('.chat-name', { hasText: 'Bob' }).waitFor({ timeout: 30_000 });
  // Bob is on a phone: Connect opened the conversation; go back to the list to see Alice there.
  await bob.page.getByRole('log').waitFor();
  await bob.page.getByRole('button', { name: 'Back to chats' }).filter({ visible: true }).click();
  await bob.page.locator('.chat-name', { hasText: 'Alice' }).waitFor({ timeout: 30_000 });
  await chatButton(alice.page, 'Bob').click();
  await chatButton(bob.page, 'Alice').click();
  await alice.page.getByRole('heading', { name: 'Bob' }).waitFor();
  await bob.page.getByRole('heading', { name: 'Alice' }).waitFor();

  // 20 messages each way, typed; Enter and the Send button alternate.
  const fromAlice = Array.from({ length: EACH_WAY }, (_, i) => `Hello Bob, message ${i} from Alice`);
  const fromBob = Array.from({ length: EACH_WAY }, (_, i) => `Hi Alice, Bob's message ${i}`);
  const typeAll = async (page, texts) => {
    const box = page.getByRole('textbox', { name: 'Message' });
    for (const [i, text] of texts.entries()) {
      await box.fill(text);
      if (i % 2 === 0) await box.press('Enter');
      else await page.getByRole('button', { name: 'Send' }).click();
      assert.equal(await box.inputValue(), '', 'the composer empties after sending');
    }
  };
  // Shift+Enter makes a new line instead of sending.
  const aliceBox = alice.page.getByRole('textbox', { name: 'Message' });
  await aliceBox.fill('line one');
  await aliceBox.press('Shift+Enter');
  await aliceBox.pressSequentially('line two');
  assert.equal(await aliceBox.inputValue(), 'line one\nline two');
  await aliceBox.fill('');

  await Promise.all([typeAll(alice.page, fromAlice), typeAll(bob.page, fromBob)]);
  const [aliceLog, bobLog] = await Promise.all([
    waitForLog(alice.page, [...fromAlice, ...fromBob]),
    waitForLog(bob.page, [...fromAlice, ...fromBob]),
  ]);
  for (const log of [aliceLog, bobLog]) {
    assert.deepEqual(log.filter((t) => fromAlice.includes(t)), fromAlice, 'Alice\'s messages in order, once');
    assert.deepEqual(log.filter((t) => fromBob.includes(t)), fromBob, 'Bob\'s messages in order, once');
    assert.equal(log.length, 2 * EACH_WAY);
  }
  // Own messages are "mine" and reach "sent"; a day separator heads the log.
  const mine = alice.page.getByRole('log').locator('.bubble.mine');
  assert.equal(await mine.count(), EACH_WAY);
  await alice.page.waitForFunction(
    () => [...document.querySelectorAll('#log .bubble.mine')].every((b) => b.dataset.state === 'sent'),
    null, { timeout: 30_000 });
  assert.equal(await alice.page.getByRole('log').locator('.bubble.theirs').count(), EACH_WAY);
  assert.equal(await alice.page.getByRole('log').locator('.day').first().textContent(), 'Today');
  assert.equal(await alice.page.getByRole('log').getAttribute('aria-live'), 'polite');
  // Nothing was delivered twice, after a moment for a duplicate to show.
  await new Promise((r) => setTimeout(r, 1_500));
  for (const page of [alice.page, bob.page]) {
    const log = await logTexts(page);
    assert.equal(log.length, 2 * EACH_WAY);
    assert.equal(new Set(log).size, 2 * EACH_WAY);
  }

  await alice.page.screenshot({ path: artifactPath('pwa-conversation-desktop.png') });
  await bob.page.screenshot({ path: artifactPath('pwa-conversation-phone.png') });
  // The chat list shows the last message.
  await bob.page.getByRole('button', { name: 'Back to chats' }).filter({ visible: true }).click();
  await bob.page.locator('.chat-last', { hasText: fromBob.at(-1) }).or(
    bob.page.locator('.chat-last', { hasText: fromAlice.at(-1) })).first().waitFor();
  await bob.page.screenshot({ path: artifactPath('pwa-chats-phone.png') });

  // Settings of a session used without saving: the display name only.
  await bob.page.getByRole('button', { name: 'Settings' }).click();
  await bob.page.getByRole('heading', { name: 'Settings' }).waitFor();
  assert.equal(await bob.page.getByRole('textbox', { name: 'Display name' }).inputValue(), 'Bob');
  assert.equal(await bob.page.getByRole('button', { name: 'Export backup' }).isVisible(), false);
  assert.equal(await bob.page.getByRole('button', { name: 'Delete this profile' }).isVisible(), false);
  await bob.page.screenshot({ path: artifactPath('pwa-settings-kiosk-phone.png') });
  await bob.page.getByRole('button', { name: 'Back to chats' }).filter({ visible: true }).click();

  // A message too large to send fails visibly, with a Retry button (which fails again).
  await aliceBox.fill('x'.repeat(100_000));
  await aliceBox.press('Enter');
  const failed = alice.page.getByRole('log').locator('.bubble.mine[data-state="failed"]');
  await failed.waitFor({ timeout: 10_000 });
  await failed.getByText('Not sent').waitFor();
  await failed.getByRole('button', { name: 'Retry' }).click();
  await alice.page.getByRole('log').locator('.bubble.mine[data-state="failed"]').getByRole('button', { name: 'Retry' }).waitFor();
  await alice.page.getByText('That message is too long to send in one piece.', { exact: false }).first().waitFor();

  // End session: back to the welcome screen, nothing of the chat left on the page.
  await alice.page.getByRole('button', { name: 'End session' }).click();
  await alice.page.getByRole('button', { name: 'Use without saving' }).waitFor();
  assert.equal(await alice.page.getByRole('textbox', { name: 'Display name' }).inputValue(), '');
  assert.equal(await alice.page.getByRole('log').count(), 0);
  assert.equal(await alice.page.getByText(fromBob[0]).count(), 0);
  assert.equal(await alice.page.getByRole('button', { name: 'End session' }).count(), 0);
  // Used without saving: nothing in IndexedDB, Cache Storage, localStorage, sessionStorage, and
  // no service worker; the same once the tab is closed and the app opened again.
  const traces = (page) => page.evaluate(async () => ({
    databases: (await indexedDB.databases()).map((d) => d.name),
    caches: await caches.keys(),
    workers: (await navigator.serviceWorker.getRegistrations()).length,
    local: localStorage.length,
    session: sessionStorage.length,
  }));
  const none = { databases: [], caches: [], workers: 0, local: 0, session: 0 };
  assert.deepEqual(await traces(alice.page), none);
  assert.deepEqual(await traces(bob.page), none, 'also during a session used without saving');
  await bob.page.close();
  const again = await bob.context.newPage();
  await again.goto(net.url);
  await again.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  assert.deepEqual(await traces(again), none, 'and after the tab was closed');

  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
  await alice.context.close();
  await bob.context.close();
});

test('Save on this device opens a saved profile; Lock asks for the passphrase again', async () => {
  const carol = await newPerson(PHONE, net.url, 'dark');
  await carol.page.getByRole('textbox', { name: 'Display name' }).fill('Carol');
  await carol.page.getByRole('textbox', { name: 'Passphrase (optional)' }).fill('correct horse battery staple');
  await carol.page.getByRole('button', { name: 'Save on this device' }).click();
  await carol.page.getByRole('button', { name: 'New chat' }).waitFor({ timeout: 30_000 });
  assert.equal(await carol.page.getByText('Not saved on this device').isVisible(), false);
  await carol.page.screenshot({ path: artifactPath('pwa-chats-phone-dark.png') });
  await carol.page.getByRole('button', { name: 'Lock' }).click();
  const passphrase = carol.page.getByRole('textbox', { name: 'Passphrase', exact: true });
  await passphrase.waitFor();
  await carol.page.screenshot({ path: artifactPath('pwa-unlock-phone-dark.png') });
  await passphrase.fill('wrong horse');
  await carol.page.getByRole('button', { name: 'Unlock' }).click();
  await carol.page.getByRole('alert').filter({ hasText: 'That passphrase does not open the profile saved on this device.' })
    .waitFor({ timeout: 30_000 });
  await passphrase.fill('correct horse battery staple');
  await carol.page.getByRole('button', { name: 'Unlock' }).click();
  await carol.page.getByRole('button', { name: 'New chat' }).waitFor({ timeout: 30_000 });
  assert.equal(await carol.page.locator('#me-name').textContent(), 'Carol');
  assert.deepEqual(carol.errors, []);
  await carol.context.close();
});

test('Scan QR code is offered exactly where the browser can scan, and fills the link', async () => {
  // This Chromium as it is (headless: typically no BarcodeDetector).
  const plain = await newPerson(DESKTOP);
  await useWithoutSaving(plain.page, 'Pat');
  await plain.page.getByRole('button', { name: 'New chat' }).click();
  await plain.page.getByRole('button', { name: 'Paste invitation' }).click();
  const can = await plain.page.evaluate(() => 'BarcodeDetector' in window && !!navigator.mediaDevices?.getUserMedia);
  assert.equal(await plain.page.getByRole('button', { name: 'Scan QR code' }).isVisible(), can);
  await plain.context.close();

  // A browser with a camera and a BarcodeDetector (both stand-ins) that sees an invitation.
  const link = `${net.url.replace(/\/$/, '')}/#/invite/scanned-link`;
  const context = await net.browser.newContext({ viewport: PHONE });
  await context.addInitScript((link) => {
    window.BarcodeDetector = class { async detect() { return [{ rawValue: link, format: 'qr_code' }]; } };
    Object.defineProperty(navigator, 'mediaDevices', { value: {
      getUserMedia: async () => {
        const canvas = document.createElement('canvas');
        canvas.width = 64; canvas.height = 64;
        canvas.getContext('2d').fillRect(0, 0, 64, 64);
        return canvas.captureStream(5);
      },
    } });
  }, link);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(net.url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  await useWithoutSaving(page, 'Quinn');
  await page.getByRole('button', { name: 'New chat' }).click();
  await page.getByRole('button', { name: 'Paste invitation' }).click();
  await page.getByRole('button', { name: 'Scan QR code' }).click();
  const linkIn = page.getByRole('textbox', { name: 'Invitation link' });
  await page.waitForFunction((link) => document.getElementById('invite-link-in').value === link, link, { timeout: 10_000 });
  assert.equal(await linkIn.inputValue(), link);
  assert.equal(await page.getByRole('button', { name: 'Stop scanning' }).isVisible(), false, 'the camera is off again');
  assert.deepEqual(errors, []);
  await context.close();
});

test('opening the app at an invitation link offers to connect after the welcome', async () => {
  const dan = await newPerson(DESKTOP);
  await useWithoutSaving(dan.page, 'Dan');
  await dan.page.getByRole('button', { name: 'New chat' }).click();
  await dan.page.getByRole('button', { name: 'Create invitation' }).click();
  await dan.page.waitForFunction(
    () => document.getElementById('invite-link-out').value.includes('#/invite/'), null, { timeout: 30_000 });
  const link = await dan.page.getByRole('textbox', { name: 'Invitation link' }).inputValue();

  // A fresh page opened at the link itself.
  const erin = await newPerson(PHONE, link);
  await useWithoutSaving(erin.page, 'Erin');
  const linkIn = erin.page.getByRole('textbox', { name: 'Invitation link' });
  assert.equal(await linkIn.inputValue(), link);
  assert.equal(await linkIn.getAttribute('readonly'), null);
  await erin.page.screenshot({ path: artifactPath('pwa-invite-opened-phone.png') });
  await erin.page.getByRole('button', { name: 'Connect' }).click();
  await erin.page.getByRole('heading', { name: 'Dan' }).waitFor({ timeout: 30_000 });
  await dan.page.locator('.chat-name', { hasText: 'Erin' }).waitFor({ timeout: 30_000 });
  assert.deepEqual(dan.errors, []);
  assert.deepEqual(erin.errors, []);
  await dan.context.close();
  await erin.context.close();
});

test('the keyboard alone reaches every step from the welcome to an invitation', async () => {
  const kim = await newPerson(PHONE);
  const focused = () => kim.page.evaluate(() => {
    const a = document.activeElement;
    return a?.labels?.[0]?.textContent ?? a?.getAttribute('aria-label') ?? a?.textContent ?? '';
  });
  await kim.page.keyboard.press('Tab');
  assert.equal(await focused(), 'Display name');
  await kim.page.keyboard.type('Kim');
  await kim.page.keyboard.press('Tab');
  assert.equal(await focused(), 'Passphrase (optional)');
  await kim.page.keyboard.press('Tab');
  assert.equal(await focused(), 'Save on this device');
  await kim.page.keyboard.press('Tab');
  assert.equal(await focused(), 'Use without saving');
  await kim.page.keyboard.press('Enter');
  await kim.page.getByRole('button', { name: 'End session' }).waitFor({ timeout: 30_000 });
  await kim.page.waitForFunction(() => document.activeElement?.textContent === 'New chat');
  await kim.page.keyboard.press('Enter');
  assert.equal(await focused(), 'Create invitation');
  await kim.page.keyboard.press('Enter');
  await kim.page.waitForFunction(
    () => document.activeElement?.id === 'invite-link-out' && document.activeElement.value.includes('#/invite/'),
    null, { timeout: 30_000 });
  await kim.page.keyboard.press('Tab');
  assert.equal(await focused(), 'Copy link');
  // Escape goes back to the chat list on a phone, with focus on New chat.
  await kim.page.keyboard.press('Escape');
  await kim.page.waitForFunction(() => document.activeElement?.textContent === 'New chat');
  assert.equal(await kim.page.getByRole('button', { name: 'Create invitation' }).isVisible(), false);
  assert.deepEqual(kim.errors, []);
  await kim.context.close();
});
