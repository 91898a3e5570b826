// Many fresh pages of one browser engine, each opening and closing a new in-memory profile
// `opens` times against a local `sotto-relay dev`: every open must settle and verify the same
// directory. Finds faults that show once in hundreds of pages (docs/ENGINES.md has what it found
// in WebKitGTK). Not a pass/fail test: prints each failed page (its error, and the page's
// uncaught errors) and a summary line; exits 0.
//
//   node bench/engine-stress.mjs [engine] [pages] [opens per page]     (default: webkit 300 20)
//
// `SOTTO_WEB_ROOT=<dir>` serves another build of pkg/ (a directory with index.html, web/ and
// pkg/); `SOTTO_STRESS_PORT=<n>` moves the ports (n, n+1000, n+2000). The browser inherits the
// environment, so engine options go there (e.g. JavaScriptCore's `JSC_useWasmOSR=0`).
import { startDev } from '../e2e/harness.mjs';
import { Browser } from '../e2e/webdriver.mjs';

const [engine = 'webkit', pages = '300', opens = '20'] = process.argv.slice(2);
const base = Number(process.env.SOTTO_STRESS_PORT ?? 18500);
/// How long one open or close may take before the page counts as hung: more than
/// `Sotto.open`'s stated 60 s and its 70 s backstop (which rejects `TIMEOUT`).
const HUNG_MS = 80_000;

const started = Date.now();
const dev = await startDev({
  httpPort: base, wsBasePort: base + 1000,
  ...(process.env.SOTTO_WEB_ROOT ? { webRoot: process.env.SOTTO_WEB_ROOT } : {}),
});
const browser = await Browser.launch(engine, base + 2000);
let failed = 0;
try {
  for (let page = 0; page < Number(pages); page++) {
    await browser.goto(dev.url);
    try {
      await browser.eval(async (opens, hungMs) => {
        window.__uncaught = [];
        window.addEventListener('error', (e) => window.__uncaught.push(String(e.message)));
        window.addEventListener('unhandledrejection', (e) => window.__uncaught.push(String(e.reason)));
        const mod = await import('/pkg/sotto.js');
        await mod.default();
        const within = (p, what) => Promise.race([p, new Promise((_, reject) =>
          setTimeout(() => reject(new Error(`${what} did not settle in ${hungMs / 1000} s`)), hungMs))]);
        const trust = await (await fetch('/config.json')).json();
        for (let i = 0; i < opens; i++) {
          const me = await within(mod.Sotto.open({
            directoryUrl: `${location.origin}/directory.json`, ...trust, storage: 'memory', displayName: 'Stress',
          }), `open ${i}`);
          await within(me.close(), `close ${i}`);
        }
      }, Number(opens), HUNG_MS);
    } catch (e) {
      failed++;
      let uncaught = [];
      try { uncaught = await browser.eval(() => window.__uncaught); } catch { /* the page is gone */ }
      console.log(`page ${page}: ${e.message.split('\n')[0]}${uncaught.length ? ` | uncaught: ${uncaught.join(' | ')}` : ''}`);
    }
  }
} finally {
  await browser.close();
  await dev.stop();
}
console.log(`${engine}: ${pages} pages x ${opens} opens: ${failed} failed, in ${((Date.now() - started) / 1000).toFixed(0)} s`);
