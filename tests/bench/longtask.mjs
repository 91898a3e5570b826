// The PWA's main thread while Sotto works (issue 15, "Off the main thread"): the longest task
// (PerformanceObserver 'longtask', tasks of 50 ms and more) on the PWA's page while it
//   (a) unlocks a passphrase-protected profile (Argon2id),
//   (b) sends a 10 MB file (encryption, chunks through the onion),
//   (c) receives 200 messages (decoding, storage, rendering),
// with the library in a worker (the PWA as shipped, pkg/worker.js) and on the main thread (the
// same PWA with /pkg/worker.js answered by a module that opens `Sotto` on the page). Prints one
// JSON object on stdout (report.mjs reads it as longtask.json); progress goes to stderr. Not a
// pass/fail test.
//
//   SOTTO_RELAY_BIN=target/release/sotto-relay node bench/longtask.mjs > longtask.json
//
// The peer (Bob) is an ordinary page with `Sotto` from /pkg/sotto.js; only Alice's page, the
// PWA, is observed. Each mode gets fresh browser contexts (a new profile).
//
// `LONGTASK_TRACE=<dir>`: also writes a Chromium performance trace of each case there
// (`<mode>-<case>.json`, open it in DevTools' Performance panel or chrome://tracing) to name
// what a long task runs. `LONGTASK_MODES=worker` (or `main`) runs one mode only.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LIBRARY_ON_THE_PAGE, startDev, launchBrowser } from '../e2e/harness.mjs';

const FILE_BYTES = 10 * 1024 * 1024;
const MESSAGES = 200;
const PASSPHRASE = 'tuba mango seventeen lanterns';

const log = (line) => process.stderr.write(`longtask bench: ${line}\n`);
const TRACE_DIR = process.env.LONGTASK_TRACE ?? null;
/// What a trace records: the renderer's tasks, their script, layout and GC, and user timings.
const TRACE_CATEGORIES = [
  'toplevel', 'devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8', 'v8.execute',
  'blink', 'blink.user_timing', 'loading', 'disabled-by-default-v8.cpu_profiler',
];


/// Collects the page's long tasks from before its first script.
function observeLongTasks() {
  window.__longtasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longtasks.push({ start: e.startTime, duration: e.duration });
  }).observe({ type: 'longtask', buffered: true });
}

/// The longest long task (ms) of `page` that started during `work()`; 0 when none did.
/// `trace`: the name of a trace file to write under LONGTASK_TRACE, when that is set.
async function longestDuring(page, work, trace) {
  const tracing = TRACE_DIR && trace;
  if (tracing) await page.context().browser().startTracing(page, { categories: TRACE_CATEGORIES });
  const from = await page.evaluate(() => performance.now());
  await work();
  // A task still running when `work` ended is reported once it ends.
  await page.waitForTimeout(300);
  if (tracing) writeFileSync(join(TRACE_DIR, `${trace}.json`), await page.context().browser().stopTracing());
  return page.evaluate((from) => window.__longtasks.filter((t) => t.start + t.duration >= from)
    .reduce((m, t) => Math.max(m, t.duration), 0), from);
}

async function run(browser, url, mode) {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  await context.addInitScript(observeLongTasks);
  if (mode === 'main') {
    await context.route('**/pkg/worker.js', (route) => route.fulfill({ contentType: 'text/javascript', body: LIBRARY_ON_THE_PAGE }));
  }
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
  await page.getByRole('textbox', { name: 'Display name' }).fill('Alice');
  await page.getByRole('textbox', { name: 'Passphrase (optional)' }).fill(PASSPHRASE);
  await page.getByRole('button', { name: 'Save on this device' }).click();
  await page.getByRole('button', { name: 'New chat' }).waitFor({ timeout: 60_000 });

  // (a) unlock
  await page.getByRole('button', { name: 'Lock' }).click();
  const passphrase = page.getByRole('textbox', { name: 'Passphrase', exact: true });
  await passphrase.fill(PASSPHRASE);
  const unlock = await longestDuring(page, async () => {
    await passphrase.press('Enter');
    await page.getByRole('button', { name: 'New chat' }).waitFor({ timeout: 60_000 });
  }, `${mode}-unlock`);
  log(`${mode}: unlock ${unlock.toFixed(0)} ms`);

  // Bob, a page of his own, accepts Alice's invitation.
  const bobContext = await browser.newContext({ serviceWorkers: 'block' });
  const bob = await bobContext.newPage();
  await bob.goto(url);
  await bob.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
  await bob.evaluate(async () => {
    const mod = await import('/pkg/sotto.js');
    await mod.default();
    window.__me = await mod.Sotto.open({ ...(await (await fetch('/config.json')).json()), displayName: 'Bob' });
    window.__attachments = [];
    window.__me.addEventListener('attachment', (e) => window.__attachments.push(e.detail));
  });
  await page.getByRole('button', { name: 'New chat' }).click();
  await page.getByRole('button', { name: 'Create invitation' }).click();
  await page.waitForFunction(() => document.getElementById('invite-link-out').value.includes('#/invite/'), null, { timeout: 60_000 });
  const link = await page.getByRole('textbox', { name: 'Invitation link' }).inputValue();
  const bobsAlice = await bob.evaluate((link) => window.__me.acceptInvitation(link).then((c) => c.id), link);
  await page.locator('.chat-name', { hasText: 'Bob' }).waitFor({ timeout: 60_000 });
  await page.getByRole('button').filter({ has: page.locator('.chat-name', { hasText: 'Bob' }) }).click();
  await page.getByRole('heading', { name: 'Bob' }).waitFor();

  // (b) a 10 MB file, until Bob has it.
  const sendFile = await longestDuring(page, async () => {
    // A file on disk, so the browser reads it (a buffer would be decoded by script in the page,
    // itself a long task).
    await page.locator('#file-input').setInputFiles(tenMb);
    await bob.waitForFunction(() => window.__attachments.some((a) => a.ready), null, { timeout: 600_000, polling: 500 });
  }, `${mode}-send-file`);
  log(`${mode}: 10 MB file ${sendFile.toFixed(0)} ms`);

  // (c) 200 messages from Bob, until Alice's conversation shows them all.
  const shown = () => page.getByRole('log').locator('.bubble .text').count();
  const before = await shown();
  const receive = await longestDuring(page, async () => {
    await bob.evaluate(({ id, n }) => Promise.all(Array.from({ length: n }, (_, i) => window.__me.send(id, `message ${i}`))),
      { id: bobsAlice, n: MESSAGES });
    await page.waitForFunction((n) => document.querySelectorAll('[role="log"] .bubble .text').length >= n,
      before + MESSAGES, { timeout: 300_000, polling: 500 });
  }, `${mode}-receive`);
  log(`${mode}: ${MESSAGES} messages ${receive.toFixed(0)} ms`);
  await bobContext.close();
  await context.close();
  return { unlock_ms: unlock, send_file_ms: sendFile, receive_ms: receive };
}

const scratch = mkdtempSync(join(tmpdir(), 'sotto-longtask-'));
const tenMb = join(scratch, 'ten.bin');
writeFileSync(tenMb, Buffer.alloc(FILE_BYTES, 7));
if (TRACE_DIR) mkdirSync(TRACE_DIR, { recursive: true });
const dev = await startDev({ httpPort: 0, wsBasePort: 0, relays: 5 });
const browser = await launchBrowser();
const result = { file_bytes: FILE_BYTES, messages: MESSAGES };
try {
  for (const mode of (process.env.LONGTASK_MODES ?? 'worker,main').split(',')) {
    result[mode] = await run(browser, dev.url, mode);
  }
} finally {
  await browser.close();
  await dev.stop();
  rmSync(scratch, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
