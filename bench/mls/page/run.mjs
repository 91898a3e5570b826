// `make bench-mls`, browser half: serves bench/mls/page and the wasm-bindgen output of the MLS
// spike on 127.0.0.1 (ephemeral port), opens it in Debian's headless Chromium through
// playwright-core (tests/node_modules) and prints the JSON summary of `runMlsBench`.
//
//   node bench/mls/page/run.mjs PKG_DIR ROUNDS BIG(0|1)
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { dirname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser } from '../../../tests/e2e/harness.mjs';

const [pkg, rounds = '5', big = '1'] = process.argv.slice(2);
const here = dirname(fileURLToPath(import.meta.url));
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };

const server = createServer(async (req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  const [dir, rest] = path.startsWith('/pkg/') ? [pkg, path.slice(5)] : [here, 'index.html'];
  const file = normalize(join(dir, rest));
  try {
    if (!file.startsWith(normalize(dir) + sep)) throw new Error('outside');
    const type = TYPES[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream';
    res.writeHead(200, { 'content-type': type }).end(await readFile(file));
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  const json = await page.evaluate(
    async ([r, b]) => (await window.mlsReady)(r, b),
    [Number(rounds), big === '1'],
  );
  const ua = await page.evaluate(() => navigator.userAgent);
  console.log(JSON.stringify({ browser: ua, ...JSON.parse(json) }));
} finally {
  await browser.close();
  server.close();
}
