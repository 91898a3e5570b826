// The messenger half of `make bench`: a real `sotto-relay dev --ephemeral` network (loopback,
// free ports) and Debian's headless Chromium, measuring what a person using Sotto waits for.
// Prints one JSON object on stdout for report.mjs; progress goes to stderr.
//
//   SOTTO_RELAY_BIN=target/release/sotto-relay node bench/app.mjs --pkg target/bench-pkg > app.json
//
//   1. browser to browser: two pages in separate browser contexts, each with a `Sotto` from the
//      served /pkg/sotto.js (public API only), meet through an invitation; then delivery latency
//      (the sender's send() call to the receiver's 'message' event, one message in flight) and
//      sustained messages/s, with 'memory' storage and with 'indexeddb'.
//   2. storage: a profile in IndexedDB with 10,000 messages (written by the bench build's
//      benchSeedMessages through the messenger's storage code) in a browser profile on disk,
//      then, in a fresh page, the time of Sotto.open and of messages(contactId, {limit: 50}).
//      storage_large: the same with 100,000 messages and 1,000 contacts (issue 18's row).
//   2b. storage writes: bytes put into IndexedDB by the write one received message causes, with
//      1, 100 and 1,000 contacts (bench build's benchReceiveWriteBytes), and opening them.
//   3. PWA: cold loads of the welcome screen (a fresh browser context each, so no HTTP cache and
//      no service worker): time to a usable "Display name" box and to enabled buttons (the wasm
//      instantiated), and the bytes the load fetched, each gzipped as a server would send it.
//
// The pages are the PWA's own index.html (as in tests/e2e; service workers blocked), driven only
// through the public API of the served /pkg/sotto.js; the app itself opens nothing until
// someone fills in its welcome form. The storage bench's seeding needs the bench build of the
// wasm: Playwright's request routing answers /bench/pkg/ with it (same origin, so the same
// IndexedDB), never the relay's web server. (A page answered wholly by routing may not open
// WebSockets to loopback: Chromium's local network access checks.)
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { startDev, launchBrowser, launchPersistent, ROOT } from '../e2e/harness.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const BENCH_PKG = opt('pkg', join(ROOT, 'target', 'bench-pkg'));
const LATENCY_MESSAGES = Number(opt('messages', '100'));
const BURST_MESSAGES = Number(opt('burst', '200'));
const SEED_MESSAGES = 10_000;
const SEED_LARGE = Number(opt('large-messages', '100000'));
const PWA_LOADS = 5;
// `--only storage_writes,pwa`: run only these parts (by their keys in the result).
const ONLY = opt('only', null);
// `--profile-open`: Chromium's sampling profiler over each timed open + newest page of the
// storage rows; self time per function summed over the opens, in the result as `open_profile`
// (names only where the served pkg/ keeps its wasm name section).
const PROFILE_OPEN = args.includes('--profile-open');
// `--profile-dir DIR`: with `--profile-open`, each open's whole profile also goes to
// DIR/open-<i>.cpuprofile (for inclusive times, or DevTools).
const PROFILE_DIR = opt('profile-dir', null);
// `--marks`: the `performance.mark`s the served pkg/ makes during each timed open and newest
// page (a bench build's: `crate::js::mark`; the shipped one makes none), as the median of
// their times after the open's start, reported as `open_marks_ms` (the open's waterfall).
const OPEN_MARKS = args.includes('--marks');
// `--web-root DIR`: serve index.html, web/ and pkg/ from DIR (e.g. another build's pkg/, to
// compare two builds alternately); default the repository.
const WEB_ROOT = opt('web-root', ROOT);
// `--opens N`: how many timed opens the storage rows take (default 5).
const OPENS = Number(opt('opens', '5'));
// `--ab DIR_A,DIR_B`: the storage rows' timed opens alternate between two builds' pkg/
// directories (A first), each answered by routing at /ab/0/ and /ab/1/ (same origin, so the
// same profile), instead of the served /pkg/: two builds side by side in one run, on one
// seeded profile, the way every other ratio here is taken. Reported per side as `ab`, with
// the ratio B / A of their medians.
const AB = opt('ab', null)?.split(',');
// `--warm-ms MS`: before the timed opens, one untimed open (per build with `--ab`) whose page
// stays MS ms after it: the engine's compiled-code cache of a returning user (V8 writes the
// wasm's cache about 2 s after its last optimised compile; see BENCHMARKS.md).
const WARM_MS = Number(opt('warm-ms', '0'));
// `--in-memory`: the storage rows' stored profile lives in an in-memory browser context (an
// incognito window's: IndexedDB and every cache in memory), as before 2026-12-02. By default
// it lives in a browser profile on disk (a browser of its own, `launchPersistent`), as a
// person's saved profile does: a profile of 100,000 messages exists only there. The open
// measured 1.3–1.4× slower in memory (BENCHMARKS.md, "The stored profile on disk").
const PERSISTENT = !args.includes('--in-memory');
// `--js-flags FLAGS`: V8 flags for the browser, comma-separated (e.g.
// `--no-liftoff,--no-wasm-lazy-compilation`), to test where the time of cold code goes.
const JS_FLAGS = opt('js-flags', null);
// `--spans`: the browser-to-browser latency rows also split each message's time at the pages'
// WebSocket frames and IndexedDB commits (see `SPAN_HOOKS`), reported as `spans_ms`.
const SPANS = args.includes('--spans');
// `--cpu-profile DIR`: Chromium's sampling profiler in both pages over the latency rows; each
// page's profile goes to DIR/<storage>-<who>.cpuprofile, and its self time per function,
// largest first, to stderr (serve a pkg/ with its name section kept for names in the wasm).
const CPU_PROFILE = opt('cpu-profile', null);
// `--idb-floor`: after the latency rows, the receiver's page also times bare IndexedDB
// transactions shaped like its writes (see `IDB_FLOOR`), reported as `idb_floor_ms`.
const WITH_IDB_FLOOR = args.includes('--idb-floor');
// `--trace FILE`: a Chromium trace (tasks, V8, IndexedDB) of the receiver's page over the
// 'indexeddb' latency row, written to FILE (open it in chrome://tracing or Perfetto).
const TRACE = opt('trace', null);

const log = (line) => process.stderr.write(`app bench: ${line}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => percentile(xs, 50);
function percentile(xs, p) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
/// Polls `check()` (async) every 20 ms until it returns something truthy, for at most `ms`.
async function until(what, check, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm' };

const dev = await startDev({ httpPort: 0, wsBasePort: 0, relays: 5, webRoot: WEB_ROOT });
const origin = dev.url.replace(/\/$/, '');
const browserArgs = JS_FLAGS ? [`--js-flags=${JS_FLAGS.replaceAll(',', ' ')}`] : [];
const browser = await launchBrowser(browserArgs);
const result = { chromium_version: browser.version() };

/// A browser context whose /bench/ URLs are answered from here (see the header).
async function benchContext({ persistent = false } = {}) {
  let context;
  if (persistent) {
    const dir = await mkdtemp(join(tmpdir(), 'sotto-bench-'));
    context = await launchPersistent(dir, browserArgs, { serviceWorkers: 'block' });
    context.on('close', () => rm(dir, { recursive: true, force: true, maxRetries: 10 }).catch(() => {}));
  } else {
    context = await browser.newContext({ serviceWorkers: 'block' });
  }
  await context.route(`${origin}/bench/**`, async (route) => {
    const path = new URL(route.request().url()).pathname;
    const ab = AB && path.match(/^\/bench\/ab\/([01])\/(.+)$/);
    if (path.startsWith('/bench/pkg/') && !path.includes('..')) {
      const file = path.slice('/bench/pkg/'.length);
      const ext = file.slice(file.lastIndexOf('.'));
      await route.fulfill({ contentType: TYPES[ext] ?? 'application/octet-stream', body: await readFile(join(BENCH_PKG, file)) });
    } else if (ab && !path.includes('..')) {
      const ext = ab[2].slice(ab[2].lastIndexOf('.'));
      await route.fulfill({ contentType: TYPES[ext] ?? 'application/octet-stream', body: await readFile(join(AB[Number(ab[1])], ab[2])) });
    } else {
      await route.fulfill({ status: 404, body: 'not found' });
    }
  });
  return context;
}

/// A page of `context` with a `Sotto` opened as `window.__me`; every received message is
/// recorded in `window.__got` as {text, at} (at: ms on the shared wall clock, taken in the
/// listener), and each also calls the page's `__delivered` binding when one is exposed.
async function person(context, { storage, profile, displayName }) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const waiting = new Map(); // text → resolve(at), for latency()
  await page.exposeFunction('__delivered', (text, at) => waiting.get(text)?.(at));
  await page.goto(`${origin}/`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
  if (SPANS) await page.evaluate(SPAN_HOOKS);
  await page.evaluate(async (o) => {
    const mod = await import('/pkg/sotto.js');
    await mod.default();
    window.__got = [];
    const trust = await (await fetch('/config.json')).json(); // the dev network's directory keys
    const me = await mod.Sotto.open({ directoryUrl: `${location.origin}/directory.json`, ...trust, ...o });
    me.addEventListener('message', (e) => {
      const at = performance.timeOrigin + performance.now();
      window.__got.push({ text: e.detail.text, at });
      if (window.__delivered) window.__delivered(e.detail.text, at);
    });
    window.__me = me;
  }, { storage, profile, displayName });
  return { page, errors, waiting };
}

/// For `--spans`, run in each page before its `Sotto` opens: records, on the shared clock,
/// every binary frame the page's WebSockets send (`window.__out`) and receive (`window.__in`,
/// taken when the page's handler starts) and every IndexedDB transaction's start and commit
/// (`window.__tx`). Only timestamps: no frame's bytes are kept.
function SPAN_HOOKS() {
  const clock = () => performance.timeOrigin + performance.now();
  window.__out = [];
  window.__in = [];
  window.__tx = [];
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    window.__out.push(clock());
    return send.call(this, data);
  };
  const d = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage');
  Object.defineProperty(WebSocket.prototype, 'onmessage', {
    configurable: true,
    get() { return d.get.call(this); },
    set(h) {
      d.set.call(this, h && function (e) {
        window.__in.push(clock());
        return h.call(this, e);
      });
    },
  });
  const transaction = IDBDatabase.prototype.transaction;
  const txs = new WeakMap();
  IDBDatabase.prototype.transaction = function (...a) {
    const tx = transaction.apply(this, a);
    const rec = { start: clock(), done: null, write: a[1] === 'readwrite', reqs: [], free: null };
    txs.set(tx, rec);
    window.__tx.push(rec);
    tx.addEventListener('complete', () => { rec.done = clock(); });
    // When the task that opened it ended (the next task the page ran): how long the page's
    // own work held the thread after the transaction was made.
    const ch = new MessageChannel();
    ch.port1.onmessage = () => { rec.free = clock(); ch.port1.close(); };
    ch.port2.postMessage(0);
    return tx;
  };
  // Each request's issue and success, in its transaction's record.
  for (const name of ['get', 'getAll', 'put', 'delete']) {
    const f = IDBObjectStore.prototype[name];
    IDBObjectStore.prototype[name] = function (...a) {
      const req = f.apply(this, a);
      const rec = txs.get(this.transaction);
      if (rec) {
        const r = { op: name, issued: clock(), ok: null };
        rec.reqs.push(r);
        req.addEventListener('success', () => { r.ok = clock(); });
      }
      return req;
    };
  }
}

/// For `--idb-floor`, run in a page: 200 bare read-write transactions in a database of the
/// profile's layout (one store keyed by `k`, an index on `i`), each one get and four puts
/// shaped like a received message's write (message 600 B with an index value, bookkeeping
/// 300 B, a contact 1.4 KB, the state 900 B), values made before the clock starts; medians
/// (ms) of the time to issue them and of `transaction()` to `complete`, left to commit on its
/// own and with `commit()` called once the get answered (as `storage::commit_with` does).
async function IDB_FLOOR() {
  const db = await new Promise((res, rej) => {
    const o = indexedDB.open('sotto-floor', 1);
    o.onupgradeneeded = () => o.result.createObjectStore('records', { keyPath: 'k' }).createIndex('conv', 'i');
    o.onsuccess = () => res(o.result);
    o.onerror = rej;
  });
  const hex = (n) => Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, '0')).join('');
  const val = (n) => crypto.getRandomValues(new Uint8Array(n));
  const keys = [hex(32), hex(32), `${hex(16)}:${hex(32)}`];
  const med = (xs) => +[...xs].sort((a, b) => a - b)[xs.length >> 1].toFixed(2);
  const out = {};
  for (const commit of [false, true]) {
    const issue = [], done = [];
    for (let i = 0; i < 200; i++) {
      const rows = [{ k: hex(32), i: `c:${i}`, v: val(600) }, { k: keys[1], v: val(300) }, { k: keys[2], v: val(1400) }, { k: keys[0], v: val(900) }];
      const t0 = performance.now();
      await new Promise((res, rej) => {
        const tx = db.transaction(['records'], 'readwrite');
        const s = tx.objectStore('records');
        s.get(keys[0]).onsuccess = () => { if (commit) tx.commit(); };
        for (const r of rows) s.put(r);
        issue.push(performance.now() - t0);
        tx.oncomplete = res;
        tx.onerror = rej;
      });
      done.push(performance.now() - t0);
    }
    out[commit ? 'commit_after_get' : 'auto_commit'] = { issue: med(issue), complete: med(done) };
  }
  db.close();
  indexedDB.deleteDatabase('sotto-floor');
  return out;
}

const contactsOf = (p) => p.page.evaluate(() => window.__me.contacts());

/// `inviter` invites, `invitee` accepts; resolves with each side's contact id of the other
/// once both know the other's name.
async function meet(inviter, invitee) {
  const link = await inviter.page.evaluate(() => window.__me.createInvitation());
  await invitee.page.evaluate((l) => window.__me.acceptInvitation(l), link);
  const named = (p) => until('a named contact', async () => (await contactsOf(p)).find((c) => c.displayName));
  const [a, b] = await Promise.all([named(inviter), named(invitee)]);
  return { inviterSees: a.id, inviteeSees: b.id };
}

/// One message at a time from `from` to `to` (the next is sent once the last arrived):
/// per message, the delivery latency (send() call → 'message' listener) and the time until
/// send() resolved (a relay stored it). Stops early after `budgetMs`.
async function latency(from, to, contactId, n, tag, budgetMs = 60_000) {
  const delivery = [];
  const ack = [];
  const spans = [];
  const deadline = Date.now() + budgetMs;
  const clear = () => { window.__out = []; window.__in = []; window.__tx = []; };
  for (let i = 0; i < n && Date.now() < deadline; i++) {
    const text = `${tag} #${i}`;
    const arrived = new Promise((resolve) => to.waiting.set(text, resolve));
    if (SPANS) await Promise.all([from.page.evaluate(clear), to.page.evaluate(clear)]);
    const sent = await from.page.evaluate(async ({ id, text }) => {
      const t0 = performance.timeOrigin + performance.now();
      await window.__me.send(id, text);
      return { t0, acked: performance.timeOrigin + performance.now() };
    }, { id: contactId, text });
    const at = await Promise.race([arrived, sleep(15_000).then(() => null)]);
    if (at == null) throw new Error(`${text} was not delivered within 15 s`);
    delivery.push(at - sent.t0);
    ack.push(sent.acked - sent.t0);
    if (SPANS) {
      // The receiver's Ack leaves after its event on some paths: give it a moment.
      await sleep(30);
      const logs = () => ({ out: window.__out, in: window.__in, tx: window.__tx });
      const [s, r] = await Promise.all([from.page.evaluate(logs), to.page.evaluate(logs)]);
      spans.push(split(sent, at, s, r));
      if (i === 50) log(`message 50's write transactions (ms from their start): ${JSON.stringify({ sender: s.tx.filter((x) => x.write).map(rel), receiver: r.tx.filter((x) => x.write).map(rel) })}`);
    }
  }
  return { delivery, ack, spans };
}

/// A transaction's record of `SPAN_HOOKS` with its times made relative to its start (ms).
function rel(x) {
  const t = (v) => (v == null ? null : +(v - x.start).toFixed(2));
  return { done: t(x.done), free: t(x.free), reqs: x.reqs.map((q) => [q.op, t(q.issued), t(q.ok)]) };
}

/// Starts Chromium's sampling profiler (100 µs) in `page`; returns its CDP session.
async function startProfile(context, page) {
  const session = await context.newCDPSession(page);
  await session.send('Profiler.enable');
  await session.send('Profiler.setSamplingInterval', { interval: 100 });
  await session.send('Profiler.start');
  return session;
}

/// Stops the profiler of `session`, writes the profile and logs its self time per function.
async function stopProfile(session, name) {
  const { profile } = await session.send('Profiler.stop');
  await mkdir(CPU_PROFILE, { recursive: true });
  await writeFile(join(CPU_PROFILE, `${name}.cpuprofile`), JSON.stringify(profile));
  const total = profile.endTime - profile.startTime; // µs
  const perSample = total / Math.max(1, profile.samples.length);
  const self = new Map();
  for (const n of profile.nodes) {
    const key = n.callFrame.functionName || `(anonymous ${n.callFrame.url.split('/').at(-1)})`;
    self.set(key, (self.get(key) ?? 0) + (n.hitCount ?? 0) * perSample);
  }
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 40);
  log(`${name}: ${(total / 1000).toFixed(0)} ms profiled; self time, largest first:`);
  for (const [f, us] of top) log(`  ${(us / 1000).toFixed(1).padStart(8)} ms ${(100 * us / total).toFixed(1).padStart(5)}%  ${f.slice(0, 140)}`);
}

/// One message's time split at its frames (see `SPAN_HOOKS`), in ms from the send() call:
/// the sender's work until its Send packet leaves; the network (six relay hops and the queue
/// relay's commit) until the delivery reaches the receiver's socket; the receiver's work until
/// its 'message' event (and its storage commit within it) and until its Ack leaves; the Send's
/// round trip (three hops, the commit, three hops back) and the sender's work on the answer.
function split(sent, at, s, r) {
  const first = (xs, after) => xs.find((t) => t >= after) ?? null;
  const lastBefore = (xs, t) => xs.filter((x) => x <= t).at(-1) ?? null;
  const out = first(s.out, sent.t0);
  const reply = out == null ? null : first(s.in, out);
  const delivered = lastBefore(r.in, at);
  const ackOut = delivered == null ? null : first(r.out, delivered);
  const d = (a, b) => (a == null || b == null ? null : b - a);
  const commit = (txs, from, to) => txs.filter((x) => x.write && x.start >= from && x.done != null && x.done <= to + 1)
    .reduce((a, x) => a + (x.done - x.start), 0);
  // The write transactions' inner times (`--spans`): from the transaction's start to its
  // last request issued, to the end of the task that made it, to its first and last request's
  // success, and from that last success to `complete`.
  const inner = (txs, from, to) => {
    const w = txs.filter((x) => x.write && x.start >= from && x.done != null && x.done <= to + 1);
    const sum = (f) => w.reduce((a, x) => a + (f(x) ?? 0), 0);
    const last = (xs, k) => xs.map((q) => q[k]).filter((v) => v != null).reduce((a, b) => Math.max(a, b), -Infinity);
    const firstOk = (xs) => xs.map((q) => q.ok).filter((v) => v != null).reduce((a, b) => Math.min(a, b), Infinity);
    return {
      start: w.length ? w[0].start - from : null,
      first_issued: w.length && w[0].reqs.length ? w[0].reqs[0].issued - w[0].start : null,
      n: w.length,
      reqs: w.reduce((a, x) => a + x.reqs.length, 0),
      issued: sum((x) => x.reqs.length ? last(x.reqs, 'issued') - x.start : null),
      task_end: sum((x) => (x.free == null ? null : x.free - x.start)),
      first_ok: sum((x) => (x.reqs.length ? firstOk(x.reqs) - x.start : null)),
      last_ok: sum((x) => (x.reqs.length ? last(x.reqs, 'ok') - x.start : null)),
      to_complete: sum((x) => (x.reqs.length ? x.done - last(x.reqs, 'ok') : null)),
    };
  };
  const rIn = delivered == null ? null : inner(r.tx, delivered, at);
  const sIn = inner(s.tx, sent.t0, out ?? sent.t0);
  const flat = (o, p) => Object.fromEntries(Object.entries(o ?? {}).map(([k, v]) => [`${p}_${k}`, v]));
  return {
    ...flat(rIn, 'rtx'),
    ...flat(sIn, 'stx'),
    sender_commit_before_packet: commit(s.tx, sent.t0, out ?? sent.t0),
    sender_before_packet: d(sent.t0, out),
    network_to_receiver: d(out, delivered),
    receiver_to_event: d(delivered, at),
    receiver_commit: delivered == null ? null : commit(r.tx, delivered, at),
    receiver_to_ack_out: d(delivered, ackOut),
    send_round_trip: d(out, reply),
    sender_after_reply: d(reply, sent.acked),
    sender_commits: commit(s.tx, sent.t0, sent.acked),
    sender_frames_out: s.out.filter((t) => t >= sent.t0).length,
    receiver_frames_in: r.in.length,
  };
}

/// `n` messages handed to send() at once; the rate is n over the time from the first send()
/// call to the receiver's last 'message' event.
async function burst(from, to, contactId, n, tag) {
  const before = await to.page.evaluate(() => window.__got.length);
  const t0 = await from.page.evaluate(({ id, n, tag }) => {
    const t0 = performance.timeOrigin + performance.now();
    window.__burst = Promise.all(Array.from({ length: n }, (_, i) => window.__me.send(id, `${tag} #${i}`)));
    return t0;
  }, { id: contactId, n, tag });
  const deadline = Date.now() + 90_000;
  let got;
  for (;;) {
    got = await to.page.evaluate((k) => window.__got.slice(k), before);
    if (got.length >= n || Date.now() > deadline) break;
    await sleep(100);
  }
  const last = got.at(-1)?.at;
  const inOrder = got.every((m, i) => m.text === `${tag} #${i}`);
  return { sent: n, delivered: got.length, in_order: inOrder, seconds: last ? (last - t0) / 1000 : null, per_s: last ? (got.length * 1000) / (last - t0) : null };
}

const summary = (xs) => ({ n: xs.length, p50: percentile(xs, 50), p90: percentile(xs, 90), p99: percentile(xs, 99), max: Math.max(...xs) });

// ---- 1. browser to browser --------------------------------------------------------------
async function browserToBrowser(storage) {
  // A saved profile lives on disk (see `--in-memory`).
  const onDisk = PERSISTENT && storage === 'indexeddb';
  let ca;
  let cb;
  try {
    ca = await benchContext({ persistent: onDisk });
    cb = await benchContext({ persistent: onDisk });
    const alice = await person(ca, { storage, profile: 'bench-alice', displayName: 'Alice' });
    const bob = await person(cb, { storage, profile: 'bench-bob', displayName: 'Bob' });
    const { inviterSees: alicesBob } = await meet(alice, bob);
    // Warm-up: the ratchets' first steps and the connections' first packets.
    await latency(alice, bob, alicesBob, 5, `warm-up ${storage}`);
    const profilers = CPU_PROFILE ? await Promise.all([[ca, alice], [cb, bob]].map(([c, p]) => startProfile(c, p.page))) : [];
    const tracing = TRACE && storage === 'indexeddb';
    if (tracing) await browser.startTracing(bob.page, { categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8.execute', 'IndexedDB', 'toplevel'] });
    const { delivery, ack, spans } = await latency(alice, bob, alicesBob, LATENCY_MESSAGES, `latency ${storage}`);
    if (tracing) await writeFile(TRACE, await browser.stopTracing());
    for (const [who, session] of [['sender', profilers[0]], ['receiver', profilers[1]]].filter(([, x]) => x)) {
      await stopProfile(session, `${storage}-${who}`);
    }
    const idb_floor_ms = WITH_IDB_FLOOR && storage === 'indexeddb' ? await bob.page.evaluate(IDB_FLOOR) : undefined;
    if (idb_floor_ms) log(`${storage}: bare transactions in the receiver's page (medians, ms): ${JSON.stringify(idb_floor_ms)}`);
    const sustained = await burst(alice, bob, alicesBob, BURST_MESSAGES, `burst ${storage}`);
    const errors = [...alice.errors, ...bob.errors];
    log(`${storage}: delivery p50 ${median(delivery).toFixed(1)} ms, send() resolved p50 ${median(ack).toFixed(1)} ms, ${sustained.per_s?.toFixed(1)} msg/s`);
    await Promise.all([alice, bob].map((p) => p.page.evaluate(() => window.__me.wipe())));
    const spans_ms = SPANS ? Object.fromEntries(Object.keys(spans[0] ?? {}).map((k) => [k, median(spans.map((x) => x[k]).filter((v) => v != null))])) : undefined;
    if (SPANS) log(`${storage}: spans (medians, ms): ${JSON.stringify(spans_ms)}`);
    return { storage, on_disk: onDisk, delivery_ms: summary(delivery), send_resolved_ms: summary(ack), sustained, spans_ms, idb_floor_ms, page_errors: errors };
  } finally {
    await ca?.close();
    await cb?.close();
  }
}

// ---- 2. storage ---------------------------------------------------------------------------
// `storage_large` (issue 18's row): the same with 100,000 messages and 1,000 contacts, the
// profile's one real contact copied 999 times by the bench build's benchGrowProfile (each copy
// as large as the real one) before the messages are seeded; no incoming burst.
async function storageBench({ profile = 'bench-10k', messages = SEED_MESSAGES, contacts = 1, incoming: withIncoming = true } = {}) {
  let cs;
  let cp;
  try {
    cs = await benchContext({ persistent: PERSISTENT });
    cp = await benchContext();
    const me = await person(cs, { storage: 'indexeddb', profile, displayName: 'Stored' });
    const peer = await person(cp, { storage: 'memory', profile: 'peer', displayName: 'Peer' });
    const { inviterSees: contactId } = await meet(me, peer);
    // What the meeting sends is delivered before the profile closes (benchGrowProfile refuses
    // a profile with a message to send: each copy would send it again): one message sent and
    // stored by the relay, so that the state written after it has an empty outbox.
    if (contacts > 1) {
      await latency(me, peer, contactId, 1, 'before growing');
      await sleep(1_000);
    }
    await me.page.evaluate(() => window.__me.close());
    await me.page.close();

    // `messages` messages, 500 per transaction, then 200 more one per transaction (as a message
    // that arrives alone is written: the message and the client state).
    const seed = await cs.newPage();
    await seed.goto(`${origin}/`);
    await seed.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    const seeded = await seed.evaluate(async ({ profile, contactId, n, contacts }) => {
      const mod = await import('/bench/pkg/sotto.js');
      await mod.default();
      const grown = contacts > 1 ? await mod.benchGrowProfile(profile, contacts) : 1;
      const t0 = performance.now();
      await mod.benchSeedMessages(profile, contactId, n, 500);
      const t1 = performance.now();
      await mod.benchSeedMessages(profile, contactId, 200, 1);
      const t2 = performance.now();
      return { contacts: grown, bulk_per_s: (n * 1000) / (t1 - t0), single_per_s: (200 * 1000) / (t2 - t1), seconds: (t2 - t0) / 1000 };
    }, { profile, contactId, n: messages, contacts });
    await seed.close();
    if (seeded.contacts !== contacts) throw new Error(`the profile has ${seeded.contacts} contacts, not ${contacts}`);
    const total = messages + 200;
    log(`seeded ${total} messages (${contacts} contacts) in ${seeded.seconds.toFixed(0)} s: ${seeded.bulk_per_s.toFixed(0)}/s in batches of 500, ${seeded.single_per_s.toFixed(0)}/s one per transaction`);

    // Open it in a fresh page, five times (`--opens`); the wasm is instantiated before the
    // clock starts. With `--ab`, the opens alternate between the two builds (A first).
    const opens = [];
    const samples = new Map();
    for (let i = WARM_MS ? (AB ? -2 : -1) : 0; i < (AB ? 2 * OPENS : OPENS); i++) {
      const url = AB ? `/bench/ab/${(i + 2) % 2}/sotto.js` : '/pkg/sotto.js';
      const page = await cs.newPage();
      await page.goto(`${origin}/`);
      await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
      const cdp = PROFILE_OPEN ? await page.context().newCDPSession(page) : null;
      if (cdp) {
        await cdp.send('Profiler.enable');
        await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
        await page.evaluate(async (url) => { const m = await import(url); await m.default(); }, url);
        await cdp.send('Profiler.start');
      }
      const timed = await page.evaluate(async ({ profile, contactId, url }) => {
        const mod = await import(url);
        await mod.default();
        const trust = await (await fetch('/config.json')).json(); // not part of the time
        performance.clearMarks();
        const t0 = performance.now();
        const me = await mod.Sotto.open({ directoryUrl: `${location.origin}/directory.json`, ...trust, storage: 'indexeddb', profile });
        const t1 = performance.now();
        const newest = await me.messages(contactId, { limit: 50 });
        const t2 = performance.now();
        const older = await me.messages(contactId, { limit: 50, before: newest[0].id });
        const t3 = performance.now();
        // Each mark's first time after t0, and the open's own steps (`js:`).
        const marks = {};
        for (const m of performance.getEntriesByType('mark')) {
          if (m.startTime <= t2) marks[m.name] ??= m.startTime - t0;
        }
        Object.assign(marks, { 'js:open resolved': t1 - t0, 'js:newest page read': t2 - t0 });
        await me.close();
        return { open_ms: t1 - t0, read_ms: t2 - t1, older_ms: t3 - t2, count: newest.length, newest: newest.at(-1)?.text, older: older.length, marks };
      }, { profile, contactId, url });
      if (i < 0) {
        await sleep(WARM_MS);
        await page.close();
        continue;
      }
      opens.push(timed);
      if (cdp) {
        const { profile: p } = await cdp.send('Profiler.stop');
        addSamples(samples, p);
        if (PROFILE_DIR) await writeFile(join(PROFILE_DIR, `open-${i}.cpuprofile`), JSON.stringify(p));
      }
      await page.close();
    }
    const bad = opens.find((o) => o.count !== 50 || o.older !== 50 || !o.newest?.includes('#199:'));
    if (bad) throw new Error(`the stored conversation did not read back: ${JSON.stringify(bad)}`);

    // Incoming messages through the network into the IndexedDB profile: the rate of 'message'
    // events, each dispatched only after its write committed.
    const back = await person(cs, { storage: 'indexeddb', profile, displayName: 'Stored' });
    let incoming = null;
    if (withIncoming) {
      const peersContact = (await contactsOf(peer))[0].id;
      incoming = await burst(peer, back, peersContact, BURST_MESSAGES, 'incoming');
    }
    await back.page.evaluate(() => window.__me.wipe());
    const pick = (k) => opens.map((o) => o[k]);
    const sum = opens.map((o) => o.open_ms + o.read_ms);
    const names = [...new Set(opens.flatMap((o) => Object.keys(o.marks)))];
    const marks = Object.fromEntries(names.map((n) => [n, Number(median(opens.map((o) => o.marks[n]).filter((v) => v != null)).toFixed(1))])
      .sort((a, b) => a[1] - b[1]));
    if (OPEN_MARKS) log(`marks (ms after the open's start, medians): ${JSON.stringify(marks)}`);
    const ab = AB && [0, 1].map((side) => {
      const mine = opens.filter((_, i) => i % 2 === side);
      const t = mine.map((o) => o.open_ms + o.read_ms);
      return { pkg: AB[side], open_read_ms: median(t), open_ms: median(mine.map((o) => o.open_ms)), read_ms: median(mine.map((o) => o.read_ms)), all_ms: t.map((x) => Number(x.toFixed(1))) };
    });
    if (ab) log(`ab: A ${ab[0].open_read_ms.toFixed(1)} ms, B ${ab[1].open_read_ms.toFixed(1)} ms (medians of ${OPENS} each, alternating): B / A ${(ab[1].open_read_ms / ab[0].open_read_ms).toFixed(3)}`);
    log(`open ${median(pick('open_ms')).toFixed(1)} ms + newest page ${median(pick('read_ms')).toFixed(1)} ms (median of ${opens.length}); incoming ${incoming?.per_s?.toFixed(1) ?? 'not measured'} msg/s`);
    return {
      ...(PROFILE_OPEN ? { open_profile: topSamples(samples) } : {}),
      ...(OPEN_MARKS ? { open_marks_ms: marks } : {}),
      messages: total,
      contacts,
      on_disk: PERSISTENT,
      open_ms: median(pick('open_ms')),
      read_ms: median(pick('read_ms')),
      older_ms: median(pick('older_ms')),
      open_read_ms: median(sum),
      first_open_read_ms: sum[0],
      runs: opens.length,
      ...(ab ? { ab, ab_ratio: ab[1].open_read_ms / ab[0].open_read_ms } : {}),
      seed: seeded,
      incoming,
      page_errors: [...back.errors, ...peer.errors],
    };
  } finally {
    await cs?.close();
    await cp?.close();
  }
}

/// Adds a DevTools CPU profile's sample counts per function (name and script) to `into`.
function addSamples(into, { nodes, samples }) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  for (const id of samples) {
    const f = byId.get(id)?.callFrame;
    const name = f ? `${f.functionName || '(anonymous)'}${f.url ? ` ${f.url.split('/').pop()}` : ''}` : '?';
    into.set(name, (into.get(name) ?? 0) + 1);
  }
}

/// The 40 functions with the most samples in `counts`, each with its share of all samples.
function topSamples(counts) {
  const all = [...counts.values()].reduce((a, b) => a + b, 0);
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, 40)
    .map(([fn, n]) => ({ fn, share: Number((n / all).toFixed(4)) }));
}

// ---- 2b. storage writes per received message ------------------------------------------------
// The bench build's benchReceiveWriteBytes: Alice (N contacts) receives one message, and the
// write it causes goes to IndexedDB twice, as the messenger writes now (the state's core and
// the changed contact's record) and as it wrote before per-contact records (the whole client
// state); bytes = the sealed values' lengths. Then the time to open the profile's state (the
// state record and N contact records, one transaction) in a fresh page.
const WRITE_CONTACTS = [1, 100, 1000];

/// Runs `fn(arg)` in a fresh page of `context` whose `window.__bench` is the bench build's
/// module, instantiated before `fn` starts.
async function inBenchPage(context, fn, arg) {
  const page = await context.newPage();
  try {
    await page.goto(`${origin}/`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    await page.evaluate(async () => {
      window.__bench = await import('/bench/pkg/sotto.js');
      await window.__bench.default();
    });
    return await page.evaluate(fn, arg);
  } finally {
    await page.close();
  }
}

async function storageWrites() {
  const context = await benchContext();
  try {
    const rows = [];
    for (const n of WRITE_CONTACTS) {
      rows.push(await inBenchPage(context, (n) => window.__bench.benchReceiveWriteBytes(`bench-writes-${n}`, n), n));
      for (const form of ['parts', 'whole']) {
        const opens = [];
        for (let i = 0; i < 3; i++) {
          opens.push(await inBenchPage(context, async (profile) => {
            const t0 = performance.now();
            const count = await window.__bench.benchOpenState(profile);
            return { ms: performance.now() - t0, count };
          }, `bench-writes-${n}-${form}`));
        }
        if (opens.some((o) => o.count !== n)) throw new Error(`the ${n}-contact profile (${form}) did not open with ${n} contacts`);
        rows.at(-1)[`open_${form}_ms`] = median(opens.map((o) => o.ms));
      }
      const r = rows.at(-1);
      log(`${n} contacts: ${r.parts} B written per received message (whole state: ${r.whole} B); open ${r.open_parts_ms.toFixed(1)} ms (whole state: ${r.open_whole_ms.toFixed(1)} ms)`);
    }
    return { rows };
  } finally {
    await context.close();
  }
}

// ---- 3. PWA cold load ---------------------------------------------------------------------
// Marks, on the page's own clock (0 = navigation start), when the "Display name" box is there
// and enabled and when the welcome screen's buttons are (the app sets data-ready then).
const MARKS = () => {
  window.__marks = {};
  const check = () => {
    const m = window.__marks;
    const now = performance.now();
    const input = document.getElementById('display-name');
    const label = input && document.querySelector('label[for="display-name"]');
    if (m.input == null && label && !input.disabled && input.getClientRects().length) m.input = now;
    if (m.ready == null && document.body?.dataset.ready === 'true') m.ready = now;
    return m.input != null && m.ready != null;
  };
  const observer = new MutationObserver(() => { if (check()) observer.disconnect(); });
  observer.observe(document, { childList: true, subtree: true, attributes: true });
};

async function pwaLoad() {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.addInitScript(MARKS);
    const fetched = [];
    page.on('response', async (r) => {
      try {
        const body = await r.body();
        fetched.push({ url: r.url(), raw: body.length, gz: gzipSync(body, { level: 9 }).length, encoding: r.headers()['content-encoding'] ?? null });
      } catch { /* redirects and aborted requests have no body */ }
    });
    await page.goto(`${origin}/`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    // Let the service worker's registration and any late request finish.
    await page.waitForLoadState('networkidle');
    const marks = await page.evaluate(() => window.__marks);
    return { input_ms: marks.input, ready_ms: marks.ready, fetched };
  } finally {
    await context.close();
  }
}

async function pwaBench() {
  const loads = [];
  for (let i = 0; i < PWA_LOADS; i++) loads.push(await pwaLoad());
  // Each URL once (the icon is asked for twice: <link rel="icon"> and the <img>).
  const files = [...new Map(loads[0].fetched.map((f) => [f.url, f])).values()]
    .map((f) => ({ path: new URL(f.url).pathname, raw: f.raw, gz: f.gz, encoding: f.encoding }));
  const r = {
    loads: loads.length,
    input_ms: median(loads.map((l) => l.input_ms)),
    ready_ms: median(loads.map((l) => l.ready_ms)),
    bytes_raw: files.reduce((a, f) => a + f.raw, 0),
    bytes_gz: files.reduce((a, f) => a + f.gz, 0),
    server_compressed: files.some((f) => f.encoding),
    files,
  };
  log(`PWA: "Display name" usable at ${r.input_ms?.toFixed(0)} ms, buttons at ${r.ready_ms?.toFixed(0)} ms; ${files.length} files, ${(r.bytes_gz / 1000).toFixed(1)} KB gzipped`);
  return r;
}

try {
  for (const [key, run] of [
    ['b2b_memory', () => browserToBrowser('memory')],
    ['b2b_indexeddb', () => browserToBrowser('indexeddb')],
    ['storage', () => storageBench()],
    ['storage_large', () => storageBench({ profile: 'bench-100k', messages: SEED_LARGE, contacts: 1000, incoming: false })],
    ['storage_writes', storageWrites],
    ['pwa', pwaBench],
  ]) {
    if (ONLY && !ONLY.split(',').includes(key)) continue;
    const t0 = Date.now();
    try {
      result[key] = await run();
    } catch (e) {
      log(`${key} failed: ${e.stack ?? e}`);
      result[key] = { error: String(e.message ?? e).split('\n')[0] };
    }
    log(`${key}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
} finally {
  await browser.close();
  await dev.stop();
}
process.stdout.write(`${JSON.stringify(result, null, 1)}\n`);
