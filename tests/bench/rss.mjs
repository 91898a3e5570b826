// Relay memory with many queues, for relay.mjs: three `sotto-relay run` processes on loopback
// (temporary data dirs, free ports) filled by `sotto-relay loadgen --create-queues N` (Create
// with proof of work, then Subscribe with 8 SURBs, as a client does), reading each process's
// VmRSS from /proc before and after.
//
// The directory is the signed one, as a deployment has it: a `sotto-relay authority` (three
// keys, threshold 2) polls the relays' /descriptor and signs /directory.json; the relays are
// started again with that file as their peers and the keys as `directory_keys`; the load
// generator reads the directory and the keys from one origin (/directory.json, relayed from
// the authority, and /config.json), as the PWA's web server gives them to clients.
//
// Not `sotto-relay dev`: its relays ask for the default 16-bit proof of work, which makes
// 10,000 queues take about 9 minutes of client-side hashing; `run` takes `pow_bits` from its
// config, and the proof of work does not change what a relay keeps per queue.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const POW_BITS = 4;
const AUTHORITY_KEYS = 3;
const THRESHOLD = 2;

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const vmRssKib = (pid) => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

/// Starts `bin args` and resolves once its output matched `ready` (with the match).
async function startProcess(bin, args, ready) {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const match = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sotto-relay ${args[0]} did not start:\n${output}`)), 20_000);
    const onData = (chunk) => {
      output += chunk;
      const m = ready.exec(output);
      if (m) { clearTimeout(timer); resolve(m); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`sotto-relay ${args[0]} exited with ${code}:\n${output}`)); });
  });
  child.removeAllListeners('exit');
  return {
    child,
    match,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.on('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/// Starts `sotto-relay run` with `config` and resolves once it printed its HTTP endpoints.
async function startRelay(bin, dir, config) {
  const file = join(dir, 'relay.toml');
  writeFileSync(file, config);
  return startProcess(bin, ['run', '--config', file], /relay endpoints at http:\/\/\S+/);
}

/// Starts `sotto-relay authority` (keys made in `root` on first start) polling `descriptors`
/// every second; resolves with its base URL and public keys once it listens.
async function startAuthority(bin, root, descriptors) {
  const port = await freePort();
  const file = join(root, 'authority.toml');
  const keyFiles = Array.from({ length: AUTHORITY_KEYS }, (_, i) => `"${join(root, `authority-${i + 1}.key`)}"`);
  writeFileSync(file, [
    `key_files = [${keyFiles.join(', ')}]`,
    `listen = "127.0.0.1:${port}"`,
    `relays = [${descriptors.map((u) => `"${u}"`).join(', ')}]`,
    'poll_secs = 1',
    '',
  ].join('\n'));
  const p = await startProcess(bin, ['authority', '--config', file], /authority at (http:\/\/\S+) with keys (\S+)\n/);
  return { ...p, url: p.match[1], keys: p.match[2].split(',') };
}

/// The authority's signed directory once it lists `count` relays (it polls them every second).
async function signedDirectory(authorityUrl, count) {
  const until = Date.now() + 20_000;
  for (;;) {
    const text = await (await fetch(`${authorityUrl}/directory.json`)).text();
    if (JSON.parse(text).relays?.length === count) return text;
    if (Date.now() > until) throw new Error(`the authority's directory lists fewer than ${count} relays:\n${text}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/// What a deployment's web server gives clients, on one loopback origin: /config.json (the
/// authorities' keys and threshold) and /directory.json (the authority's, fetched anew each time);
/// and /metrics, the relays' one after the other (loadgen sums them: the network's queues).
async function startFront(authorityUrl, keys, relayUrls) {
  const server = createHttpServer(async (req, res) => {
    try {
      if (req.url === '/config.json') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ directoryKeys: keys, directoryThreshold: THRESHOLD }));
      } else if (req.url === '/directory.json') {
        const r = await fetch(`${authorityUrl}/directory.json`);
        res.writeHead(r.status, { 'content-type': 'application/json' });
        res.end(await r.text());
      } else if (req.url === '/metrics') {
        const texts = await Promise.all(relayUrls.map(async (u) => (await fetch(`${u}/metrics`)).text()));
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(texts.join('\n'));
      } else {
        res.writeHead(404).end();
      }
    } catch (e) {
      res.writeHead(502).end(String(e));
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

/// `spawnSync`'s result, without blocking this process (the front above must answer meanwhile).
function run(bin, args, timeout) {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.on('error', (e) => { stderr += String(e); });
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

/// Fills three relays with up to `queues` queues, in steps of `step` (one loadgen run each,
/// with a seed of its own), reading the relays' VmRSS after each; stops early when the next
/// step would end after `deadlineMs`, judging by the steps so far.
export async function queuesRss({ bin, queues = 10_000, step = 2_500, relays = 3, deadlineMs = 240_000 }) {
  const started = Date.now();
  const root = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'sotto-rss-'));
  const nodes = [];
  for (let i = 0; i < relays; i++) {
    nodes.push({ dir: join(root, `relay${i}`), ws: await freePort(), http: await freePort() });
  }
  const config = (n, directoryFile, keys) => [
    `listen = "127.0.0.1:${n.ws}"`,
    `public_url = "ws://127.0.0.1:${n.ws}"`,
    `data_dir = "${n.dir}"`,
    `http = "127.0.0.1:${n.http}"`,
    'log = "warn"',
    ...(directoryFile ? [
      `directory_file = "${directoryFile}"`,
      `directory_keys = [${keys.map((k) => `"${k}"`).join(', ')}]`,
      `directory_threshold = ${THRESHOLD}`,
    ] : []),
    '[service]',
    `pow_bits = ${POW_BITS}`,
    '',
  ].join('\n');
  const running = [];
  let authority = null;
  let front = null;
  try {
    // First start: each relay makes its identity and serves its signed descriptor, which the
    // authority collects into a signed directory.
    for (const n of nodes) {
      mkdirSync(n.dir, { recursive: true });
      running.push(await startRelay(bin, n.dir, config(n, null)));
    }
    authority = await startAuthority(bin, root, nodes.map((n) => `http://127.0.0.1:${n.http}/descriptor`));
    const directoryFile = join(root, 'directory.json');
    writeFileSync(directoryFile, await signedDirectory(authority.url, relays));
    // Then all of them again, each knowing the others from the signed directory.
    for (const r of running.splice(0)) await r.stop();
    for (const n of nodes) running.push(await startRelay(bin, n.dir, config(n, directoryFile, authority.keys)));
    front = await startFront(authority.url, authority.keys, nodes.map((n) => `http://127.0.0.1:${n.http}`));
    const rss = () => running.map((r) => vmRssKib(r.child.pid));
    const steps = [{ queues: 0, seconds: 0, rss_kib: rss() }];
    let made = 0;
    while (made < queues) {
      const n = Math.min(step, queues - made);
      const last = steps.at(-1);
      const perQueue = made ? last.seconds / made : 0;
      if (made && Date.now() + perQueue * n * 1000 > started + deadlineMs) break;
      const lg = await run(bin, [
        'loadgen', '--directory', `${front.url}/directory.json`,
        '--create-queues', String(n), '--pow-bits', String(POW_BITS), '--seed', String(steps.length),
      ], Math.max(10_000, started + deadlineMs + 60_000 - Date.now()));
      const line = `${lg.stdout}\n${lg.stderr}`.split('\n').reverse().find((l) => l.startsWith('LOADGEN_JSON '));
      if (!line) throw new Error(`loadgen --create-queues printed no LOADGEN_JSON (exit ${lg.status ?? lg.signal}):\n${String(lg.stderr).slice(-2000)}`);
      process.stderr.write(`${line}\n`);
      const report = JSON.parse(line.slice('LOADGEN_JSON '.length));
      if (!report.subscribed) throw new Error(`loadgen subscribed none of ${n} queues`);
      made += report.subscribed;
      steps.push({ queues: made, seconds: last.seconds + report.seconds, rss_kib: rss() });
    }
    return { relays, pow_bits: POW_BITS, requested: queues, queues: made, steps, wall_s: (Date.now() - started) / 1000 };
  } finally {
    await front?.stop();
    for (const r of running) await r.stop();
    await authority?.stop();
    rmSync(root, { recursive: true, force: true });
  }
}
