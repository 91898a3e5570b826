// A signed directory (issue 13): `sotto-relay dev` serves /directory.json signed by three
// authority keys (threshold 2) and tells the keys in /config.json. The library opens with
// the right keys, also with the page's clock four hours fast (the dev directory is valid three
// hours: read within the 24 h grace); a directory signed by other keys, one that has expired
// more than the grace ago (the page's clock 28 hours ahead), an unsigned one and a tampered
// one are refused with DIRECTORY_INVALID and a message that says why; no keys at all is
// INVALID_ARGUMENT, and the PWA without keys says so at once. Bad documents are served at a
// path of the page's own origin through Playwright's request interception.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDev, launchBrowser } from './harness.mjs';

let dev;
let browser;

before(async () => {
  dev = await startDev({ httpPort: 18320, wsBasePort: 22000, relays: 4 });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (dev) assert.equal(await dev.stop(), 0, 'sotto-relay dev exits 0 on SIGTERM');
});

/// Runs before any script of the page: `Date` is `shiftMs` ahead.
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

/// Opens the library in a fresh page with `options` (plus the dev network's keys unless
/// `keys` is false); `serve` maps a path to a directory document served there instead.
async function tryOpen({ options = {}, keys = true, serve = null, shiftMs = 0 } = {}) {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  if (shiftMs) await context.addInitScript(shiftClock, shiftMs);
  const page = await context.newPage();
  if (serve) {
    await page.route(`**${serve.path}`, (route) => route.fulfill({
      status: 200, contentType: 'application/json', body: serve.body,
    }));
  }
  await page.goto(dev.url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  const result = await page.evaluate(async ({ options, keys }) => {
    const mod = await import('/pkg/sotto.js');
    await mod.default();
    const config = keys ? await (await fetch('/config.json')).json() : {};
    try {
      const me = await mod.Sotto.open({
        storage: 'memory', displayName: 'Dee', directoryUrl: `${location.origin}/directory.json`,
        ...config, ...options,
      });
      const link = await me.createInvitation();
      await me.close();
      return { ok: true, link };
    } catch (e) {
      return { ok: false, name: e.name, code: e.code, message: e.message };
    }
  }, { options, keys });
  await context.close();
  return result;
}

async function served() {
  const [doc, config] = await Promise.all([
    fetch(`${dev.url}/directory.json`).then((r) => r.json()),
    fetch(`${dev.url}/config.json`).then((r) => r.json()),
  ]);
  return { doc, config };
}

test('the dev network serves a directory signed by 2 of 3 authorities and names their keys', async () => {
  const { doc, config } = await served();
  assert.equal(doc.version, 2);
  assert.equal(config.directoryKeys.length, 3);
  assert.equal(config.directoryThreshold, 2);
  assert.deepEqual(doc.signatures.map((s) => s.key).sort(), [...config.directoryKeys].sort());
  assert.ok(doc.valid_until > Date.now() / 1000 + 3600, 'valid for hours');
  assert.equal(doc.relays.length, 4);
  for (const r of doc.relays) assert.match(r.signature, /^[A-Za-z0-9_-]{86}$/);
});

test('with the right keys the library opens and makes an invitation', async () => {
  const r = await tryOpen();
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.match(r.link, /#\/invite\//);
});

test('a directory signed by other keys is refused with DIRECTORY_INVALID', async () => {
  const other = Buffer.alloc(32, 7).toString('base64url');
  const r = await tryOpen({ options: { directoryKeys: [other], directoryThreshold: 1 } });
  assert.equal(r.ok, false);
  assert.equal(r.code, 'DIRECTORY_INVALID', JSON.stringify(r));
  assert.match(r.message, /0 valid authority signature\(s\), 1 needed/);
  // One right key of three does not reach a threshold of two.
  const { config } = await served();
  const one = await tryOpen({ options: { directoryKeys: [config.directoryKeys[0], other], directoryThreshold: 2 } });
  assert.equal(one.code, 'DIRECTORY_INVALID', JSON.stringify(one));
  assert.match(one.message, /1 valid authority signature\(s\), 2 needed/);
});

test('a page four hours fast still reads the directory and makes an invitation', async () => {
  const r = await tryOpen({ shiftMs: 4 * 3600_000 });
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.match(r.link, /#\/invite\//);
});

test('a directory expired longer than the grace is refused with DIRECTORY_INVALID', async () => {
  const r = await tryOpen({ shiftMs: 28 * 3600_000 });
  assert.equal(r.ok, false);
  assert.equal(r.code, 'DIRECTORY_INVALID', JSON.stringify(r));
  assert.match(r.message, /expired/);
});

test('an unsigned or tampered directory is refused with DIRECTORY_INVALID', async () => {
  const { doc } = await served();
  const unsigned = await tryOpen({ serve: { path: '/directory.json', body: JSON.stringify({ ...doc, signatures: [] }) } });
  assert.equal(unsigned.code, 'DIRECTORY_INVALID', JSON.stringify(unsigned));
  assert.match(unsigned.message, /not signed/);
  const v1 = await tryOpen({
    serve: { path: '/directory.json', body: JSON.stringify({ version: 1, relays: doc.relays }) },
  });
  assert.equal(v1.code, 'DIRECTORY_INVALID', JSON.stringify(v1));
  const tampered = structuredClone(doc);
  tampered.relays[0].sphinx_key = Buffer.alloc(32, 9).toString('base64url');
  const t = await tryOpen({ serve: { path: '/directory.json', body: JSON.stringify(tampered) } });
  assert.equal(t.code, 'DIRECTORY_INVALID', JSON.stringify(t));
  assert.match(t.message, /0 valid authority signature/);
});

test('without directoryKeys open is INVALID_ARGUMENT', async () => {
  const r = await tryOpen({ keys: false });
  assert.equal(r.ok, false);
  assert.equal(r.code, 'INVALID_ARGUMENT', JSON.stringify(r));
  assert.match(r.message, /directoryKeys/);
});

test('the PWA without any directory keys says so instead of opening', async () => {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  // This site names no authorities (no /config.json) and none were kept.
  await context.route('**/config.json', (route) => route.fulfill({ status: 404, body: '' }));
  const page = await context.newPage();
  await page.goto(dev.url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  await page.getByRole('textbox', { name: 'Display name' }).fill('Dee');
  const started = Date.now();
  await page.getByRole('button', { name: 'Use without saving' }).click();
  await page.getByText('does not say which directory authorities to trust', { exact: false })
    .waitFor({ timeout: 10_000 });
  assert.ok(Date.now() - started < 10_000, 'a message, not a hang');
  await context.close();
});
