// The core scenario in each browser engine Sotto supports, through the public API of
// pkg/sotto.js and plain WebDriver: Chromium, Firefox ESR (Tor Browser's engine) and WebKitGTK
// (Safari's engine). Two browser instances of one engine: an invitation, 10 messages each way
// in order, closing and reopening the IndexedDB profile with its history, and a 300 KB file
// whose bytes are compared; and fresh pages that open and close a profile again and again.
// `SOTTO_ENGINES=firefox,webkit` runs a subset.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDev } from './harness.mjs';
import { Browser } from './webdriver.mjs';

const MESSAGES = 10;
const FILE_BYTES = 300 * 1024;
const ENGINES = (process.env.SOTTO_ENGINES ?? 'chromium,firefox,webkit').split(',');
let dev;
let nextPort = 4451;

before(async () => {
  dev = await startDev({ httpPort: 18150, wsBasePort: 20001 });
});

after(async () => {
  if (dev) assert.equal(await dev.stop(), 0, 'sotto-relay dev exits 0 on SIGTERM');
});

/// Opens (or reopens) the profile `engines` in `browser`'s page and collects its events in
/// `window.__events`.
async function open(browser, displayName) {
  return browser.eval(async (displayName) => {
    const mod = await import('/pkg/sotto.js');
    await mod.default();
    window.__events = [];
    // The same pseudo-random bytes on both sides (xorshift32 from `seed`); defined here, as
    // the app's CSP forbids eval.
    window.__bytes = (n, seed) => {
      const out = new Uint8Array(n);
      let x = seed;
      for (let i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
        out[i] = x & 0xff;
      }
      return out;
    };
    window.__me = await mod.Sotto.open({
      directoryUrl: `${location.origin}/directory.json`, ...(await (await fetch('/config.json')).json()),
      storage: 'indexeddb',
      profile: 'engines',
      displayName,
    });
    for (const type of ['message', 'contact', 'attachment', 'error']) {
      window.__me.addEventListener(type, (e) => window.__events.push({ type, ...e.detail }));
    }
    return window.__me.displayName;
  }, displayName);
}

/// A browser instance of `engine` on a page of the app, with its profile open; added to
/// `people` as soon as it runs, so that the test's `finally` stops it even when the open fails.
async function person(engine, displayName, people) {
  const browser = await Browser.launch(engine, nextPort++);
  people.push(browser);
  await browser.goto(dev.url);
  assert.equal(await open(browser, displayName), displayName);
  return browser;
}

/// Pages of `engine` loaded afresh, each opening and closing a new in-memory profile this
/// many times: every open settles and verifies the same directory (tests/bench/engine-stress.mjs
/// runs the same with hundreds of pages; docs/ENGINES.md says what it found).
const PAGES = 10;
const OPENS = 5;
/// Engines where this test runs and reports but cannot fail the suite, and why.
const KNOWN_FAULTS = {
  webkit: 'docs/ENGINES.md: now and then a wasm trap or a wrong signature check in WebKitGTK 2.50.6 (gone with JavaScriptCore\'s concurrent GC or JIT off)',
};

for (const engine of ENGINES) {
  test(`${engine}: ${PAGES} fresh pages open and close a profile ${OPENS} times each`, {
    timeout: 300_000, ...(KNOWN_FAULTS[engine] ? { todo: KNOWN_FAULTS[engine] } : {}),
  }, async () => {
    const browser = await Browser.launch(engine, nextPort++);
    try {
      for (let page = 0; page < PAGES; page++) {
        await browser.goto(dev.url);
        const uncaught = await browser.eval(async (opens) => {
          const uncaught = [];
          window.addEventListener('error', (e) => uncaught.push(String(e.message)));
          const mod = await import('/pkg/sotto.js');
          await mod.default();
          const trust = await (await fetch('/config.json')).json();
          for (let i = 0; i < opens; i++) {
            const me = await mod.Sotto.open({
              directoryUrl: `${location.origin}/directory.json`, ...trust, storage: 'memory', displayName: 'Pat',
            });
            await me.close();
          }
          return uncaught;
        }, OPENS);
        assert.deepEqual(uncaught, [], `page ${page}`);
      }
    } finally {
      await browser.close();
    }
  });

  test(`${engine}: invitation, ${MESSAGES} messages each way, IndexedDB reopen, a 300 KB file`,
    { timeout: 300_000 },
    async () => {
      const started = Date.now();
      const people = [];
      try {
        const alice = await person(engine, 'Alice', people);
        const bob = await person(engine, 'Bob', people);

        const link = await alice.eval(() => window.__me.createInvitation());
        const bobsAlice = (await bob.eval((l) => window.__me.acceptInvitation(l), link)).id;
        const alicesBob = await alice.until(async () =>
          (await window.__me.contacts()).find((c) => c.displayName === 'Bob')?.id, null, 60_000, 'Bob as a contact');
        await bob.until(async () =>
          (await window.__me.contacts()).some((c) => c.displayName === 'Alice'), null, 60_000, 'Alice\'s name');

        // Both ways at once, every send in flight together: each side receives in order.
        const sendAll = (who, id) => who.eval(async (id, n, who) => {
          const sent = await Promise.all(Array.from({ length: n }, (_, i) => window.__me.send(id, `${who} ${i}`)));
          return sent.length;
        }, id, MESSAGES, who.name);
        alice.name = 'from Alice';
        bob.name = 'from Bob';
        assert.deepEqual(await Promise.all([sendAll(alice, alicesBob), sendAll(bob, bobsAlice)]),
          [MESSAGES, MESSAGES]);
        const received = (who, n) => who.until((n) => {
          const texts = window.__events.filter((e) => e.type === 'message').map((e) => e.text);
          return texts.length >= n && texts;
        }, n, 60_000, `${n} messages`);
        const expected = (prefix) => Array.from({ length: MESSAGES }, (_, i) => `${prefix} ${i}`);
        assert.deepEqual(await received(bob, MESSAGES), expected('from Alice'));
        assert.deepEqual(await received(alice, MESSAGES), expected('from Bob'));

        // Close and reopen Alice's profile: contacts and history come back from IndexedDB.
        await alice.eval(() => window.__me.close());
        await alice.goto(dev.url);
        assert.equal(await open(alice, 'ignored once the profile exists'), 'Alice');
        const history = await alice.eval(async (id) =>
          (await window.__me.messages(id, { limit: 50 })).map((m) => ({ text: m.text, outgoing: m.outgoing })),
        alicesBob);
        assert.equal(history.length, 2 * MESSAGES);
        assert.deepEqual(history.filter((m) => m.outgoing).map((m) => m.text), expected('from Alice'));
        assert.deepEqual(history.filter((m) => !m.outgoing).map((m) => m.text), expected('from Bob'));

        // A file from Bob to the reopened Alice, compared byte for byte.
        const sent = await bob.eval((id, n) => window.__me.sendFile(id,
          new File([window.__bytes(n, 0x5077)], 'data.bin', { type: 'application/octet-stream' })), bobsAlice, FILE_BYTES);
        const arrived = await alice.until((id) =>
          window.__events.find((e) => e.type === 'attachment' && e.id === id), sent.id, 120_000, 'the file');
        assert.equal(arrived.ready, true, JSON.stringify(arrived));
        const check = await alice.eval(async (id, n) => {
          const want = window.__bytes(n, 0x5077);
          const got = new Uint8Array(await (await window.__me.attachment(id)).arrayBuffer());
          const firstDiff = got.findIndex((b, i) => b !== want[i]);
          return { length: got.length, firstDiff };
        }, sent.id, FILE_BYTES);
        assert.deepEqual(check, { length: FILE_BYTES, firstDiff: -1 });

        for (const who of people) {
          assert.deepEqual(await who.eval(() => window.__events.filter((e) => e.type === 'error')), []);
        }
        for (const who of people) await who.eval(() => window.__me.wipe());
        console.log(`# ${engine}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
      } finally {
        await Promise.all(people.map((p) => p.close()));
      }
    });
}
