// Relay memory with many queues, for relay.mjs: three `sotto-relay run` processes on loopback
// (temporary data dirs, free ports, one directory file naming all three) filled by
// `sotto-relay loadgen --create-queues N` (Create with proof of work, then Subscribe with 8
// SURBs, as a client does), reading each process's VmRSS from /proc before and after.
//
// Not `sotto-relay dev`: its relays ask for the default 16-bit proof of work, which makes
// 10,000 queues take about 9 minutes of client-side hashing; `run` takes `pow_bits` from its
// config, and the proof of work does not change what a relay keeps per queue.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const POW_BITS = 4;

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const vmRssKib = (pid) => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

/// Starts `sotto-relay run` with `config` and resolves once it printed its HTTP endpoints.
async function startRelay(bin, dir, config) {
  const file = join(dir, 'relay.toml');
  writeFileSync(file, config);
  const child = spawn(bin, ['run', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sotto-relay run did not start:\n${output}`)), 20_000);
    const onData = (chunk) => {
      output += chunk;
      if (/relay endpoints at http:\/\/\S+/.test(output)) { clearTimeout(timer); resolve(); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`sotto-relay run exited with ${code}:\n${output}`)); });
  });
  child.removeAllListeners('exit');
  return {
    child,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.on('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
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
  const config = (n, directoryFile) => [
    `listen = "127.0.0.1:${n.ws}"`,
    `public_url = "ws://127.0.0.1:${n.ws}"`,
    `data_dir = "${n.dir}"`,
    `http = "127.0.0.1:${n.http}"`,
    'log = "warn"',
    ...(directoryFile ? [`directory_file = "${directoryFile}"`] : []),
    '[service]',
    `pow_bits = ${POW_BITS}`,
    '',
  ].join('\n');
  const running = [];
  try {
    // First start: each relay makes its identity and publishes its own directory entry.
    const entries = [];
    for (const n of nodes) {
      mkdirSync(n.dir, { recursive: true });
      const r = await startRelay(bin, n.dir, config(n, null));
      const dir = await (await fetch(`http://127.0.0.1:${n.http}/directory.json`)).json();
      entries.push(...dir.relays);
      await r.stop();
    }
    // Then all of them again, each knowing the others.
    const directoryFile = join(root, 'directory.json');
    writeFileSync(directoryFile, JSON.stringify({ version: 1, relays: entries }));
    for (const n of nodes) running.push(await startRelay(bin, n.dir, config(n, directoryFile)));
    const rss = () => running.map((r) => vmRssKib(r.child.pid));
    const steps = [{ queues: 0, seconds: 0, rss_kib: rss() }];
    let made = 0;
    while (made < queues) {
      const n = Math.min(step, queues - made);
      const last = steps.at(-1);
      const perQueue = made ? last.seconds / made : 0;
      if (made && Date.now() + perQueue * n * 1000 > started + deadlineMs) break;
      const lg = spawnSync(bin, [
        'loadgen', '--directory', `http://127.0.0.1:${nodes[0].http}/directory.json`,
        '--create-queues', String(n), '--pow-bits', String(POW_BITS), '--seed', String(steps.length),
      ], { encoding: 'utf8', timeout: Math.max(10_000, started + deadlineMs + 60_000 - Date.now()) });
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
    for (const r of running) await r.stop();
    rmSync(root, { recursive: true, force: true });
  }
}
