// Shared by the end-to-end tests: starts a real `sotto-relay dev` network and Debian's
// Chromium (through playwright-core; no browser is ever downloaded), and drives people through
// the public API of pkg/sotto.js or through the PWA.
//
// The functions (names are stable; new test files should use them rather than copy them):
// - `useNetwork({httpPort, wsBasePort, extraArgs, relays, webRoot, browserArgs})`: registers
//   node:test `before`/`after` hooks that start a dev network and a browser and stop them (the
//   relay must exit 0 on SIGTERM); returns `net`, whose `dev`, `browser` and `url` are set once
//   `before` ran.
// - `startDev(options)`, `launchBrowser(extraArgs)`: the two halves, for tests that need more;
//   `launchPersistent(userDataDir, extraArgs, options)`: a browser whose context keeps its data on disk.
// - `openPage(net, context, errors, {consoleErrors})`: a new page of `context` on the PWA,
//   ready (`body[data-ready]`); its page errors (and console errors) go to `errors` if given.
// - `directoryTrust(url)`: `{directoryKeys, directoryThreshold}` of the dev network at `url`
//   (its `/config.json`, read from node, so that it works while a page is offline; the last one
//   read when the network is down), to spread into `Sotto.open`'s options.
// - `openSotto(page, options)`: `Sotto.open({directoryUrl, ...directoryTrust, ...options})` in
//   the page as `window.__me`; `{ok: true}`, or `{name, code, message}` of the rejection (`__me` is null).
//   It collects `window.__received` (message details), `__errors` (`{what, code}` of `error`
//   events), `__contactEvents` (contact details) and `__events` (`{type, ...detail}` of
//   `status`, `progress`, `attachment` and `expired`).
// - `person(net, options, {context, contextOptions})`: `{context, page, errors, options}`, a page
//   in a new context (or `context`) with `openSotto(page, options)` done (skipped when `options`
//   is null); it throws if the open is refused.
// - `call(page, method, args)`: `window.__me[method](...args)` as `{value}` or
//   `{error: {name, code, message, messageId}}`.
// - `until(what, check, timeoutMs)`: polls `await what()` until `check` holds; returns it.
// - `contactsOf(page)`, `untilContacts(page, check, timeoutMs)`.
// - `receivedTexts(page)`, `untilReceived(page, texts, timeoutMs)`: the texts received; waits
//   for as many as `texts`, lets 1.5 s pass for a duplicate to show, asserts them exact.
// - `acquaint(alice, bob)`: Alice invites Bob through the API; `{alicesBob, bobsAlice}` once
//   each side knows the other by name.
// - `chatInOrder(newAlice, bob, bobsAlice, n, tag)`: n messages each way between a page's
//   `__me` and Bob, each side asserted to get the other's once each, in order.
// - `pwaPerson(net, name, {contextOptions, consoleErrors, permissions, initScript})`: a person
//   in the PWA using it without saving (kiosk mode): `{context, page, errors}`; with
//   `initScript` the PWA's library runs on the page, under it (`LIBRARY_ON_THE_PAGE`).
// - `LIBRARY_ON_THE_PAGE`: a module to answer /pkg/worker.js with (Playwright routing) so that
//   the PWA's `openInWorker` opens `Sotto` on the page instead.
// - `meetInPwa(alice, bob)`: in the PWA, Alice invites Bob; both end in their conversation.
// - `serviceConfig(text)`: a new service config file holding `text` (e.g. `'max_queues = 0\n'`),
//   for `extraArgs: ['--service-config', path]`.
// - `digestIn(page, expr, arg)`: SHA-256 (hex) of the Blob or bytes `expr(arg)` gives in the page.
// - `artifactPath(name)`: a path under tests/artifacts/ (screenshots).
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ARTIFACTS = join(ROOT, 'tests', 'artifacts');
const RELAY_BIN = process.env.SOTTO_RELAY_BIN
  ?? join(resolve(ROOT, process.env.CARGO_TARGET_DIR ?? 'target'), 'debug', 'sotto-relay');

/// Starts `sotto-relay dev --ephemeral` on ports of its own and resolves once it printed its URL.
/// `webRoot`: where index.html, web/ and pkg/ are served from (default: the repository);
/// `extraArgs`: more `dev` flags (e.g. `['--key-epoch-secs', '40']`); `dataDir`: keep the
/// relays' keys and queues there instead (`--data-dir`), so that a network stopped and
/// started again on the same ports is the same network.
export async function startDev({ httpPort = 18080, wsBasePort = 19101, relays = 5, webRoot = ROOT, extraArgs = [], dataDir = null } = {}) {
  const args = [
    'dev', ...(dataDir ? ['--data-dir', dataDir] : ['--ephemeral']), '--relays', String(relays),
    '--http', `127.0.0.1:${httpPort}`, '--ws-base-port', String(wsBasePort),
    '--web-root', webRoot, ...extraArgs,
  ];
  const child = spawn(RELAY_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sotto-relay dev did not start:\n${output}`)), 30_000);
    const onData = (chunk) => {
      output += chunk;
      const match = /Sotto is running at (http:\/\/\S+)/.exec(output);
      if (match) { clearTimeout(timer); resolve(match[1]); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`sotto-relay exited with ${code}:\n${output}`)); });
    child.on('error', (err) => { clearTimeout(timer); reject(new Error(`cannot start ${RELAY_BIN}: ${err.message}`)); });
  });
  child.removeAllListeners('exit');
  child.removeAllListeners('error');
  return {
    url,
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      return exited;
    },
  };
}

const BROWSER_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
/// Debian's Chromium, headless, with the flags that work here; `extraArgs` adds more (e.g. a
/// fake microphone).
export async function launchBrowser(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [...BROWSER_ARGS, ...extraArgs],
  });
}

/// A browser of its own whose one context keeps its data in `userDataDir` (a person's browser
/// profile: disk caches, the compiled-code cache among them, which a `browser.newContext()`
/// never has); `options` are Playwright's context options. Closing the context ends it.
export async function launchPersistent(userDataDir, extraArgs = [], options = {}) {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [...BROWSER_ARGS, ...extraArgs],
    ...options,
  });
}

/// A dev network and a browser for the tests of one file (see the list at the top).
export function useNetwork({ browserArgs = [], ...devOptions } = {}) {
  const net = { dev: null, browser: null, url: null };
  before(async () => {
    net.dev = await startDev(devOptions);
    net.url = net.dev.url;
    net.browser = await launchBrowser(browserArgs);
  });
  after(async () => {
    await net.browser?.close();
    if (net.dev) assert.equal(await net.dev.stop(), 0, 'sotto-relay dev exits 0 on SIGTERM');
  });
  return net;
}

/// A new page of `context` on the PWA, once its script is ready; page errors (and console
/// errors, with `consoleErrors`) go to `errors`.
export async function openPage(net, context, errors = null, { consoleErrors = false } = {}) {
  const page = await context.newPage();
  if (errors) page.on('pageerror', (e) => errors.push(e.message));
  if (errors && consoleErrors) {
    page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  }
  await page.goto(net.url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  return page;
}

const trusts = new Map();

/// The directory authorities of the dev network serving `url` as `Sotto.open` takes them:
/// `{directoryKeys, directoryThreshold}` from its `/config.json` (the last one read for that
/// origin when it cannot be read now: a stopped network, an offline test).
export async function directoryTrust(url) {
  const origin = new URL(url).origin;
  try {
    const resp = await fetch(`${origin}/config.json`, { signal: AbortSignal.timeout(5_000) });
    if (resp.ok) {
      const { directoryKeys, directoryThreshold } = await resp.json();
      trusts.set(origin, { directoryKeys, directoryThreshold });
    }
  } catch { /* the last one read */ }
  const trust = trusts.get(origin);
  if (!trust) throw new Error(`no /config.json at ${origin}`);
  return trust;
}

/// Opens `Sotto` on `page` as `window.__me` and collects its events (see the list at the top).
export async function openSotto(page, options) {
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  const trust = await directoryTrust(page.url());
  return page.evaluate(async ({ options, trust }) => {
    const mod = await import('/pkg/sotto.js');
    await mod.default();
    window.__received = [];
    window.__errors = [];
    window.__contactEvents = [];
    window.__events = [];
    try {
      const me = await mod.Sotto.open({ directoryUrl: `${location.origin}/directory.json`, ...trust, ...options });
      me.addEventListener('message', (e) => window.__received.push(e.detail));
      me.addEventListener('error', (e) => window.__errors.push({ what: e.detail.what, code: e.detail.code }));
      me.addEventListener('contact', (e) => window.__contactEvents.push(e.detail));
      for (const type of ['status', 'progress', 'attachment', 'expired']) {
        me.addEventListener(type, (e) => window.__events.push({ type, ...e.detail }));
      }
      window.__me = me;
      return { ok: true };
    } catch (e) {
      window.__me = null;
      return { name: e.name, code: e.code, message: e.message };
    }
  }, { options, trust });
}

/// A person with `Sotto` open in a page of their own context (see the list at the top).
export async function person(net, options, { context = null, contextOptions = {} } = {}) {
  const ctx = context ?? await net.browser.newContext({ serviceWorkers: 'block', ...contextOptions });
  const errors = [];
  const page = await openPage(net, ctx, errors);
  if (options) {
    const opened = await openSotto(page, options);
    assert.deepEqual(opened, { ok: true }, `Sotto.open(${JSON.stringify(options)})`);
  }
  return { context: ctx, page, errors, options };
}

/// `window.__me[method](...args)`: `{value}`, or `{error}` with the rejection's fields.
export const call = (page, method, args = []) => page.evaluate(async ({ method, args }) => {
  try {
    return { value: await window.__me[method](...args) };
  } catch (e) {
    return { error: { name: e.name, code: e.code, message: e.message, messageId: e.messageId } };
  }
}, { method, args });

/// Polls `await what()` every 200 ms until `check(value)` holds, and returns that value.
export async function until(what, check, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await what();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export const contactsOf = (page) => page.evaluate(() => window.__me.contacts());

/// Polls the contacts until `check(contacts)` holds (page.waitForFunction would take an async
/// predicate's promise as truthy).
export const untilContacts = (page, check, timeoutMs = 30_000) => until(() => contactsOf(page), check, timeoutMs);

export const receivedTexts = (page) => page.evaluate(() => window.__received.map((m) => m.text));

/// Waits until `page` received as many messages as `texts`, then asserts they are `texts`:
/// each exactly once, in order.
export async function untilReceived(page, texts, timeoutMs = 60_000) {
  await page.waitForFunction(
    (n) => window.__received.length >= n, texts.length, { timeout: timeoutMs, polling: 200 });
  await new Promise((r) => setTimeout(r, 1_500)); // time for a duplicate to show, if there were one
  assert.deepEqual(await receivedTexts(page), texts, 'each message arrives exactly once, in order');
}

/// Alice invites Bob (both opened with `openSotto`); resolves once each knows the other by name.
export async function acquaint(alice, bob) {
  const invitation = await call(alice.page, 'createInvitation');
  assert.ok(invitation.value, JSON.stringify(invitation));
  const accepted = await call(bob.page, 'acceptInvitation', [invitation.value]);
  assert.ok(accepted.value, JSON.stringify(accepted));
  const [alicesBob] = await untilContacts(alice.page, (cs) => cs.length === 1 && cs[0].displayName !== '');
  const [bobsAlice] = await untilContacts(bob.page, (cs) => cs.length === 1 && cs[0].displayName !== '');
  return { alicesBob, bobsAlice };
}

/// `n` messages each way between a restored Alice (`newAlice`, a page with `__me`) and Bob
/// (`bob.page`, whose contact for her is `bobsAlice`), texts `${tag} a${i}` / `${tag} b${i}`;
/// asserts each side gets the other's once each, in order.
export async function chatInOrder(newAlice, bob, bobsAlice, n, tag) {
  const [alicesBob] = await contactsOf(newAlice);
  const a = Array.from({ length: n }, (_, i) => `${tag} a${i}`);
  const b = Array.from({ length: n }, (_, i) => `${tag} b${i}`);
  for (const t of a) assert.ok((await call(newAlice, 'send', [alicesBob.id, t])).value, t);
  for (const t of b) assert.ok((await call(bob.page, 'send', [bobsAlice.id, t])).value, t);
  const got = await until(() => receivedTexts(bob.page), (ts) => a.every((t) => ts.includes(t)), 120_000);
  assert.deepEqual(got.filter((t) => t.startsWith(`${tag} `)), a, 'Bob gets them once each, in order');
  const gotA = await until(
    () => newAlice.evaluate(() => window.__received.map((m) => m.text)),
    (ts) => b.every((t) => ts.includes(t)), 120_000);
  assert.deepEqual(gotA.filter((t) => t.startsWith(`${tag} `)), b, 'Alice gets them once each, in order');
}

/// What /pkg/worker.js is answered with to run the PWA's library on the page: the same export,
/// opening `Sotto` there (see the list at the top).
export const LIBRARY_ON_THE_PAGE = `import init, { Sotto } from '/pkg/sotto.js';
export async function openInWorker(options) { await init(); return Sotto.open(options); }
export async function restoreInWorker(options) { await init(); return Sotto.restore(options); }
`;

/// A person in the PWA who uses it without saving (kiosk mode). `contextOptions` for the
/// new context; `consoleErrors`: console errors count as page errors too; `permissions` to
/// grant (e.g. `['microphone']`); `initScript`: `[fn, arg]` run before any script of the page,
/// which then opens Sotto on the page rather than in a worker (`LIBRARY_ON_THE_PAGE`).
export async function pwaPerson(net, name, {
  contextOptions = {}, consoleErrors = false, permissions = [], initScript = null,
} = {}) {
  const context = await net.browser.newContext({ serviceWorkers: 'block', ...contextOptions });
  if (permissions.length) await context.grantPermissions(permissions, { origin: net.url });
  if (initScript) {
    await context.addInitScript(...initScript);
    // Init scripts do not reach workers, and a worker script answered by routing may not open
    // WebSockets to loopback: the library runs on the page instead, under the init script.
    await context.route('**/pkg/worker.js', (route) => route.fulfill({ contentType: 'text/javascript', body: LIBRARY_ON_THE_PAGE }));
  }
  const errors = [];
  const page = await openPage(net, context, errors, { consoleErrors });
  await page.getByRole('textbox', { name: 'Display name' }).fill(name);
  await page.getByRole('button', { name: 'Use without saving' }).click();
  await page.getByRole('button', { name: 'End session' }).waitFor({ timeout: 30_000 });
  return { context, page, errors };
}

/// In the PWA, Alice invites Bob; both end up in their conversation with the other.
export async function meetInPwa(alice, bob, aliceName = 'Alice', bobName = 'Bob') {
  await alice.page.getByRole('button', { name: 'New chat' }).click();
  await alice.page.getByRole('button', { name: 'Create invitation' }).click();
  await alice.page.waitForFunction(
    () => document.getElementById('invite-link-out').value.includes('#/invite/'), null, { timeout: 30_000 });
  const link = await alice.page.getByRole('textbox', { name: 'Invitation link' }).inputValue();
  await bob.page.getByRole('button', { name: 'New chat' }).click();
  await bob.page.getByRole('button', { name: 'Paste invitation' }).click();
  await bob.page.getByRole('textbox', { name: 'Invitation link' }).fill(link);
  await bob.page.getByRole('button', { name: 'Connect' }).click();
  await bob.page.getByRole('log').waitFor();
  await alice.page.locator('.chat-name', { hasText: bobName }).waitFor({ timeout: 30_000 });
  await alice.page.getByRole('button').filter({ has: alice.page.locator('.chat-name', { hasText: bobName }) }).click();
  await alice.page.getByRole('heading', { name: bobName }).waitFor();
  await bob.page.getByRole('heading', { name: aliceName }).waitFor({ timeout: 30_000 });
}

/// SHA-256 (hex) of the page-side Blob or bytes `expr(arg)` resolves with (null for none).
export const digestIn = (page, expr, arg) => page.evaluate(async ({ expr, arg }) => {
  const value = await (0, eval)(expr)(arg);
  if (!value) return null;
  const bytes = value instanceof Blob ? await value.arrayBuffer() : value;
  const d = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, '0')).join('');
}, { expr, arg });

export function artifactPath(name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}

/// Writes `text` to a new service config file (TOML keys of `[service]`, see
/// crates/sotto-relay/src/run.rs) and returns its path, for `--service-config`.
export function serviceConfig(text) {
  const path = join(mkdtempSync(join(tmpdir(), 'sotto-service-')), 'service.toml');
  writeFileSync(path, text);
  return path;
}
