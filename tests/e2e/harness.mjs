// Shared by the end-to-end tests: starts a real `sotto-relay dev` network and Debian's
// Chromium (through playwright-core; no browser is ever downloaded).
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
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

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

export function artifactPath(name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}
