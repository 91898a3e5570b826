// Relays that accept a connection and never answer it (found in a stress run: a WebSocket
// handshake that hung `Sotto.open` for minutes). The whole dev network is stopped (SIGSTOP)
// right after it served the directory: the kernel still completes each TCP handshake, but no
// relay ever answers the WebSocket upgrade, the way a wedged or hostile relay would not.
//
// 1. A new profile: `open` tries the relays one after another, each for at most 10 s, for
//    30 s in all, and rejects RELAY_UNREACHABLE, within the 60 s pkg/README.md states.
// 2. A saved profile: `open` gives its gateway 10 s and resolves offline (its history there);
//    once the network runs again the driver reconnects by itself ('online').
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDev, launchBrowser, directoryTrust } from './harness.mjs';

/// The bound pkg/README.md states for `Sotto.open` ("Every promise settles").
const OPEN_BOUND_MS = 60_000;
let dev;
let browser;

before(async () => {
  dev = await startDev({ httpPort: 18360, wsBasePort: 23400, relays: 4 });
  browser = await launchBrowser();
});

after(async () => {
  // Never leave the network stopped, whatever failed.
  try { process.kill(dev.child.pid, 'SIGCONT'); } catch { /* gone */ }
  await browser?.close();
  if (dev) assert.equal(await dev.stop(), 0, 'sotto-relay dev exits 0 on SIGTERM');
});

/// A page of the app with the library loaded (nothing of it is fetched once the network
/// stops); `freeze` stops the network as soon as it has served the next /directory.json.
async function page() {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  const p = await context.newPage();
  await p.goto(dev.url);
  await p.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  await p.evaluate(async () => {
    const mod = await import('/pkg/sotto.js');
    await mod.default();
    window.__mod = mod;
  });
  return {
    context,
    page: p,
    freeze: () => p.route('**/directory.json', async (route) => {
      const response = await route.fetch();
      process.kill(dev.child.pid, 'SIGSTOP');
      await route.fulfill({ response });
    }, { times: 1 }),
  };
}

/// Opens a profile with `options` in `p`, and gives how it settled and after how long (ms),
/// or `settled: false` past `OPEN_BOUND_MS` (and a little more).
function openTimed(p, options, trust) {
  return p.evaluate(async ({ options, trust, bound }) => {
    const started = Date.now();
    const opening = window.__mod.Sotto.open({
      directoryUrl: `${location.origin}/directory.json`, ...trust, ...options,
    }).then((me) => {
      window.__me = me;
      window.__log = [];
      me.addEventListener('connection', (e) => window.__log.push(e.detail.state));
      return { settled: true, ok: true, connection: me.connection };
    }, (e) => ({ settled: true, ok: false, code: e.code ?? null, message: String(e.message) }));
    const late = new Promise((r) => setTimeout(() => r({ settled: false }), bound + 5_000));
    const result = await Promise.race([opening, late]);
    return { ...result, ms: Date.now() - started };
  }, { options, trust, bound: OPEN_BOUND_MS });
}

test('a new profile against relays that never answer: RELAY_UNREACHABLE within the bound', { timeout: 120_000 }, async () => {
  const trust = await directoryTrust(dev.url);
  const { context, page: p, freeze } = await page();
  try {
    await freeze();
    const r = await openTimed(p, { storage: 'memory', displayName: 'Wren' }, trust);
    assert.equal(r.settled, true, `open did not settle within ${OPEN_BOUND_MS} ms`);
    assert.equal(r.ok, false, JSON.stringify(r));
    assert.equal(r.code, 'RELAY_UNREACHABLE', JSON.stringify(r));
    assert.ok(r.ms <= OPEN_BOUND_MS, `settled after ${r.ms} ms`);
  } finally {
    process.kill(dev.child.pid, 'SIGCONT');
    await context.close();
  }
});

test('a saved profile whose gateway never answers opens offline, then reconnects by itself', { timeout: 120_000 }, async () => {
  const trust = await directoryTrust(dev.url);
  const { context, page: p, freeze } = await page();
  try {
    const options = { storage: 'indexeddb', profile: 'silent-gateway', displayName: 'Wren' };
    const first = await openTimed(p, options, trust);
    assert.equal(first.ok, true, JSON.stringify(first));
    await p.evaluate(() => window.__me.close());

    await freeze();
    const again = await openTimed(p, options, trust);
    assert.equal(again.settled, true, `open did not settle within ${OPEN_BOUND_MS} ms`);
    assert.equal(again.ok, true, JSON.stringify(again));
    assert.notEqual(again.connection, 'online', JSON.stringify(again));
    assert.equal(await p.evaluate(() => window.__me.displayName), 'Wren');

    process.kill(dev.child.pid, 'SIGCONT');
    const deadline = Date.now() + 60_000;
    while (!(await p.evaluate(() => window.__log.includes('online')))) {
      assert.ok(Date.now() < deadline, 'no reconnection within 60 s of the network running again');
      await new Promise((r) => setTimeout(r, 250));
    }
    await p.evaluate(() => window.__me.wipe());
  } finally {
    process.kill(dev.child.pid, 'SIGCONT');
    await context.close();
  }
});
