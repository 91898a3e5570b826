// pkg/ as an npm user gets it, through a bundler: `npm pack` it (so package.json's `files` apply),
// unpack it as node_modules/sotto of a tiny app, build the app with Vite (so `exports` and the
// `new URL('sotto_bg.wasm', import.meta.url)` asset are resolved by Vite), serve dist/ and load
// it in Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { build } from 'vite';
import { launchBrowser, ROOT } from './harness.mjs';

const pkgVersion = JSON.parse(readFileSync(join(ROOT, 'pkg', 'package.json'), 'utf8')).version;
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };
let tmp;
let server;
let browser;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'sotto-vite-'));
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', tmp], {
    cwd: join(ROOT, 'pkg'),
    env: { ...process.env, npm_config_update_notifier: 'false' },
  }))[0];
  const sotto = join(tmp, 'app', 'node_modules', 'sotto');
  mkdirSync(sotto, { recursive: true });
  execFileSync('tar', ['-xzf', join(tmp, packed.filename), '-C', sotto, '--strip-components=1']);

  writeFileSync(join(tmp, 'app', 'index.html'),
    '<!doctype html><title>vite app</title><link rel="icon" href="data:,"><script type="module" src="/main.js"></script>\n');
  writeFileSync(join(tmp, 'app', 'main.js'), `
    import init, { version, selfTest, packetSize } from 'sotto';
    await init();
    document.body.dataset.version = version();
    document.body.dataset.selfTest = selfTest();
    document.body.dataset.packetSize = String(packetSize());
    // sotto/worker: Vite builds sotto-worker.js with its imports (the package and its wasm)
    // from the literal new Worker(new URL(...)) in worker.js, and the worker answers.
    const { savedProfileInWorker } = await import('sotto/worker');
    document.body.dataset.worker = JSON.stringify(await savedProfileInWorker('nobody'));
    document.body.dataset.ready = 'true';
  `);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('a Vite build of an app importing `sotto` and `sotto/worker` loads the wasm core in Chromium, on the page and in a worker', async () => {
  const dist = join(tmp, 'app', 'dist');
  const output = await build({
    root: join(tmp, 'app'),
    configFile: false,
    logLevel: 'warn',
    build: { outDir: dist, emptyOutDir: true },
  });

  // Vite followed `new URL('sotto_bg.wasm', import.meta.url)` and emitted the wasm as an asset.
  const files = (Array.isArray(output) ? output : [output]).flatMap((o) => o.output.map((f) => f.fileName));
  const wasmFile = files.find((f) => f.endsWith('.wasm'));
  assert.ok(wasmFile, `no .wasm among Vite's outputs: ${files.join(', ')}`);
  assert.ok(readdirSync(join(dist, 'assets')).some((f) => /^sotto_bg-.*\.wasm$/.test(f)), 'wasm in dist/assets');

  // A static server for dist/, on a free port, with the content types instantiateStreaming needs.
  const served = [];
  server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    const file = join(dist, path === '/' ? 'index.html' : path);
    if (!file.startsWith(dist)) { res.writeHead(403).end(); return; }
    try {
      const body = readFileSync(file);
      served.push(path);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // wasm-bindgen warns (and falls back) when the wasm is not served as application/wasm.
  page.on('console', (m) => { if (m.type() === 'warning' || m.type() === 'error') errors.push(`${m.text()} (${m.location().url})`); });
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForSelector('body[data-ready="true"]', { state: 'attached', timeout: 15_000 }); // an empty body is 'hidden'
  const data = await page.evaluate(() => ({ ...document.body.dataset }));
  assert.equal(data.version, pkgVersion);
  assert.match(data.selfTest, /^[0-9a-f]{8}$/, 'selfTest() returned a fingerprint');
  assert.ok(Number(data.packetSize) > 0);
  assert.equal(data.worker, 'null', 'savedProfileInWorker answered from a worker Vite built');
  assert.ok(served.includes(`/${wasmFile}`), `the page fetched ${wasmFile}: ${served.join(', ')}`);
  assert.deepEqual(errors, []);
  await page.close();
});
