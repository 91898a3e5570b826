// Runs the browser benchmarks (crypto.html) in Debian's headless Chromium through
// playwright-core and prints one JSON object on stdout. Used by scripts/bench.sh.
//
//   node bench/run.mjs [--pkg DIR] [--rounds N] [--target-ms MS] [--only op1,op2] [--who sotto,libsodium] [--profile]
//
// --profile: record a CPU profile of the run (Chromium's sampling profiler through the DevTools
// protocol) and add `profile`: self time per function, largest first, as shares of the samples.
// Wasm functions are named only when the module keeps its name section (a build that skipped
// wasm-opt, e.g. wasm-bindgen's output of the cargo artifact).
//
// A small HTTP server on 127.0.0.1 (ephemeral port) serves the page from tests/bench/, the
// npm packages from tests/node_modules/ and the bench build of sotto-wasm from --pkg
// (default target/bench-pkg; never the shipped pkg/).
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { launchBrowser, ROOT } from '../e2e/harness.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const PKG = opt('pkg', join(ROOT, 'target', 'bench-pkg'));
const rounds = Number(opt('rounds', '7'));
const targetMs = Number(opt('target-ms', '120'));
const only = opt('only', null)?.split(',') ?? null;
const who = opt('who', null)?.split(',') ?? null;
const profile = args.includes('--profile');

const routes = [
  ['/bench/', join(ROOT, 'tests', 'bench')],
  ['/node_modules/', join(ROOT, 'tests', 'node_modules')],
  ['/pkg/', PKG],
];
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

const server = createServer(async (req, res) => {
  const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  if (path === '/favicon.ico') { res.writeHead(204).end(); return; }
  for (const [prefix, dir] of routes) {
    if (!path.startsWith(prefix)) continue;
    const file = normalize(join(dir, path.slice(prefix.length)));
    if (!file.startsWith(dir + sep)) break;
    try {
      if (!(await stat(file)).isFile()) break;
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(await readFile(file));
      return;
    } catch {
      break;
    }
  }
  res.writeHead(404).end('not found');
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;

const browser = await launchBrowser();
let result;
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(`${base}/bench/crypto.html`);
  await page.waitForFunction(() => window.benchReady === true, null, { timeout: 60_000 });
  const cdp = profile ? await page.context().newCDPSession(page) : null;
  if (cdp) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
    await cdp.send('Profiler.start');
  }
  const t0 = Date.now();
  result = await page.evaluate((o) => window.runBench(o), { rounds, targetMs, only, who });
  if (cdp) result.profile = selfTimes((await cdp.send('Profiler.stop')).profile);
  result.chromium_version = browser.version();
  result.wall_s = (Date.now() - t0) / 1000;
  result.page_errors = errors;
} finally {
  await browser.close();
  server.close();
}
/// Self time per function name from a DevTools CPU profile: [{ fn, share }] for the top 25.
function selfTimes({ nodes, samples }) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const count = new Map();
  for (const id of samples) {
    const f = byId.get(id)?.callFrame;
    const name = f ? `${f.functionName || '(anonymous)'}${f.url ? ` ${f.url.split('/').pop()}` : ''}` : '?';
    count.set(name, (count.get(name) ?? 0) + 1);
  }
  return [...count].sort((a, b) => b[1] - a[1]).slice(0, 25)
    .map(([fn, n]) => ({ fn, share: Number((n / samples.length).toFixed(4)) }));
}

process.stdout.write(`${JSON.stringify(result, null, 1)}\n`);
