// Pictures, files, voice notes and disappearing messages in the PWA, as two people use them in
// two browser contexts through a real dev network. Chromium runs with its fake microphone, so
// the voice note is really recorded with MediaRecorder. Screenshots land in tests/artifacts/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useNetwork, pwaPerson, meetInPwa as meet, artifactPath } from './harness.mjs';

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };
const net = useNetwork({
  httpPort: 18130,
  wsBasePort: 19801,
  browserArgs: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
});

/// A person in the PWA (kiosk mode) on a screen of `viewport`, with a (fake) microphone.
const newPerson = (viewport, name) => pwaPerson(net, name, {
  contextOptions: { viewport, serviceWorkers: 'allow' }, consoleErrors: true, permissions: ['microphone'],
});

/// A PNG made in the page (a red square with a green one inside), as bytes for setInputFiles.
async function pictureBytes(page) {
  const bytes = await page.evaluate(async () => {
    const canvas = new OffscreenCanvas(320, 240);
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#d33'; ctx.fillRect(0, 0, 320, 240);
    ctx.fillStyle = '#3b3'; ctx.fillRect(80, 40, 160, 160);
    const blob = await canvas.convertToBlob({ type: 'image/png' });
    return Array.from(new Uint8Array(await blob.arrayBuffer()));
  });
  return Buffer.from(bytes);
}

test('a picture, a file and a voice note travel, then messages disappear', async () => {
  const alice = await newPerson(DESKTOP, 'Alice');
  const bob = await newPerson(PHONE, 'Bob');
  await meet(alice, bob);

  // A picture: Bob sees its preview at once, then the full picture and a download link.
  const picture = await pictureBytes(alice.page);
  await alice.page.locator('#file-input').setInputFiles({ name: 'garden.png', mimeType: 'image/png', buffer: picture });
  const bobsPicture = bob.page.getByRole('img', { name: 'Picture: garden.png' });
  await bobsPicture.waitFor({ timeout: 60_000 });
  await bob.page.getByRole('link', { name: 'Download garden.png' }).waitFor({ timeout: 60_000 });
  const shown = await bobsPicture.evaluate((img) => img.decode().then(() => [img.naturalWidth, img.naturalHeight]));
  assert.deepEqual(shown, [320, 240], 'the full picture replaced the preview');

  // A file with its size and a download that gives the same bytes.
  const text = 'Sotto carries files too.\n'.repeat(2000);
  await alice.page.locator('#file-input').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from(text) });
  const download = bob.page.getByRole('link', { name: 'Download notes.txt' });
  await download.waitFor({ timeout: 60_000 });
  assert.match(await bob.page.locator('.file-size').last().textContent(), /KB/);
  const [file] = await Promise.all([bob.page.waitForEvent('download'), download.click()]);
  const fs = await import('node:fs/promises');
  assert.equal(await fs.readFile(await file.path(), 'utf8'), text, 'the downloaded file is what was sent');
  await alice.page.getByText('Sent').last().waitFor();

  // A voice note, recorded with the (fake) microphone.
  const record = bob.page.getByRole('button', { name: 'Record a voice note' });
  await record.click();
  await bob.page.getByRole('button', { name: 'Stop and send the voice note' }).waitFor();
  await new Promise((r) => setTimeout(r, 1500));
  await bob.page.getByRole('button', { name: 'Stop and send the voice note' }).click();
  const player = alice.page.locator('audio[aria-label="Voice note"]');
  await player.waitFor({ timeout: 60_000 });
  await alice.page.waitForFunction(() => document.querySelector('audio[aria-label="Voice note"]')?.src.startsWith('blob:'),
    null, { timeout: 60_000 });
  await alice.page.screenshot({ path: artifactPath('pwa-content-desktop.png') });
  await bob.page.screenshot({ path: artifactPath('pwa-content-phone.png') });

  // Disappearing messages: Alice picks 30 seconds; Bob's conversation shows it; a new message
  // is marked, then vanishes from both views.
  await alice.page.getByRole('combobox', { name: 'Disappearing messages' }).selectOption('30');
  await bob.page.waitForFunction(() => document.getElementById('timer').value === '30', null, { timeout: 30_000 });
  const box = alice.page.getByRole('textbox', { name: 'Message' });
  await box.fill('this one disappears');
  await box.press('Enter');
  const vanishing = (page) => page.getByRole('log').locator('.bubble', { hasText: 'this one disappears' });
  await vanishing(bob.page).waitFor({ timeout: 30_000 });
  assert.equal(await vanishing(bob.page).locator('.expires').count(), 1, 'marked as disappearing');
  await bob.page.screenshot({ path: artifactPath('pwa-disappearing-phone.png') });
  await Promise.all([alice.page, bob.page].map((page) => vanishing(page).waitFor({ state: 'detached', timeout: 60_000 })));
  assert.equal(await bob.page.getByRole('img', { name: 'Picture: garden.png' }).count(), 1,
    'what was sent before the timer stays');

  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
  await alice.context.close();
  await bob.context.close();
});
