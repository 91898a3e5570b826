// Plain W3C WebDriver over HTTP (fetch), for the engines playwright-core cannot drive: Firefox
// ESR through geckodriver, WebKitGTK's MiniBrowser through WebKitWebDriver (under xvfb-run), and
// Chromium through chromedriver, so that one scenario runs the same way in all three.
// One driver process per browser instance (WebKitWebDriver allows one session per process).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/// geckodriver: `$GECKODRIVER`, or where `cargo install geckodriver` puts it, or on PATH.
const GECKODRIVER = process.env.GECKODRIVER
  ?? [join(homedir(), '.cargo', 'bin', 'geckodriver')].find((p) => existsSync(p)) ?? 'geckodriver';

/// MiniBrowser's path, from the package that installs it (null when it is not installed).
function miniBrowser() {
  const out = spawnSync('dpkg', ['-L', 'libwebkit2gtk-4.1-0'], { encoding: 'utf8' });
  return out.stdout?.split('\n').find((l) => l.endsWith('/MiniBrowser')) ?? null;
}

/// The engines: how to start a driver on `port`, and the session's capabilities.
export const ENGINES = {
  chromium: {
    command: (port) => [process.env.CHROMEDRIVER ?? '/usr/bin/chromedriver', [`--port=${port}`]],
    capabilities: (profileDir) => ({
      browserName: 'chrome',
      'goog:chromeOptions': {
        binary: process.env.CHROMIUM ?? '/usr/bin/chromium',
        args: [...CHROMIUM_ARGS, `--user-data-dir=${profileDir}`],
      },
    }),
  },
  firefox: {
    command: (port) => [GECKODRIVER, [`--port=${port}`]],
    capabilities: () => ({
      browserName: 'firefox',
      'moz:firefoxOptions': { binary: process.env.FIREFOX ?? '/usr/bin/firefox-esr', args: ['-headless'] },
    }),
  },
  webkit: {
    // MiniBrowser has no headless mode: each driver gets a virtual display of its own.
    command: (port) => ['xvfb-run', ['-a', 'WebKitWebDriver', `--port=${port}`]],
    capabilities: () => ({
      browserName: 'MiniBrowser',
      'webkitgtk:browserOptions': { binary: process.env.MINIBROWSER ?? miniBrowser(), args: ['--automation'] },
    }),
  },
};

/// What of the engine's driver and browser is not installed (`scripts/setup.sh --with-browser`
/// installs them).
export function missing(engine) {
  const need = {
    chromium: ['/usr/bin/chromium', process.env.CHROMEDRIVER ?? '/usr/bin/chromedriver'],
    firefox: [process.env.FIREFOX ?? '/usr/bin/firefox-esr', GECKODRIVER],
    webkit: ['xvfb-run', 'WebKitWebDriver', process.env.MINIBROWSER ?? miniBrowser() ?? 'MiniBrowser'],
  }[engine];
  return need.filter((cmd) => spawnSync('sh', ['-c', `command -v "${cmd}"`]).status !== 0);
}

async function call(base, method, path, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok || json.value?.error) {
    const v = json.value ?? {};
    throw new Error(`WebDriver ${method} ${path}: ${v.error ?? res.status}: ${v.message ?? ''}`);
  }
  return json.value;
}

/// The driver processes started and not yet stopped. A test that fails before it closes its
/// browsers must not leave them running: their pipes are unreferenced (a forgotten driver does
/// not keep node's event loop, and so the test run, alive) and every one still here is killed
/// with its process group when node exits or is stopped by a signal.
const LIVE = new Set();
function killLive() {
  for (const child of LIVE) {
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
  }
}
process.on('exit', killLive);
// A signal (the test runner's or `timeout`'s) ends node without 'exit': stop them, then die
// of the signal as before.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    killLive();
    process.kill(process.pid, signal);
  });
}

/// A browser instance: its own driver process and one session in it.
export class Browser {
  constructor(engine, child, base, sessionId, profileDir) {
    Object.assign(this, { engine, child, base, sessionId, profileDir });
    this.output = '';
  }

  /// Starts `engine`'s driver on `port` and a session in it.
  static async launch(engine, port) {
    const spec = ENGINES[engine];
    const absent = missing(engine);
    if (absent.length) throw new Error(`${engine}: not installed: ${absent.join(', ')} (scripts/setup.sh --with-browser)`);
    const [cmd, args] = spec.command(port);
    // Its own process group, so that stopping it also stops xvfb-run's Xvfb and the browser.
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    LIVE.add(child);
    child.on('exit', () => LIVE.delete(child));
    child.unref();
    child.stdout.unref();
    child.stderr.unref();
    let output = '';
    child.stdout.on('data', (c) => { output += c; });
    child.stderr.on('data', (c) => { output += c; });
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${cmd} exited with ${child.exitCode}:\n${output}`);
      try {
        const status = await call(base, 'GET', '/status');
        if (status.ready !== false) break;
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) {
        process.kill(-child.pid, 'SIGTERM');
        throw new Error(`${cmd} did not start:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const profileDir = mkdtempSync(join(tmpdir(), `sotto-${engine}-`));
    let session;
    try {
      session = await call(base, 'POST', '/session', {
        capabilities: { alwaysMatch: spec.capabilities(profileDir) },
      });
    } catch (e) {
      process.kill(-child.pid, 'SIGTERM');
      throw new Error(`${e.message}\n${output}`);
    }
    const browser = new Browser(engine, child, base, session.sessionId, profileDir);
    Object.defineProperty(browser, 'output', { get: () => output });
    await browser.session('POST', '/timeouts', { script: 120_000, pageLoad: 30_000 });
    return browser;
  }

  session(method, path, body) {
    return call(this.base, method, `/session/${this.sessionId}${path}`, body);
  }

  /// Navigates to `url` (an HTML page: in Firefox a dynamic import() fails from a JSON document).
  goto(url) {
    return this.session('POST', '/url', { url });
  }

  /// Runs `fn` (an async function, given as source or a function) in the page with `args`
  /// (JSON values) and resolves with its result; a thrown error rejects with its message,
  /// its `code` when it has one, and its stack.
  async eval(fn, ...args) {
    const script = `const done = arguments[arguments.length - 1];
      Promise.resolve().then(() => (${fn})(...Array.from(arguments).slice(0, -1)))
        .then((value) => done({ ok: true, value: value === undefined ? null : value }),
              (e) => done({ ok: false, message: String(e && e.message || e), code: e && e.code || null,
                            stack: String(e && e.stack || '') }));`;
    const r = await this.session('POST', '/execute/async', { script, args });
    if (!r.ok) {
      const err = new Error(`${this.engine}: ${r.message}${r.code ? ` (${r.code})` : ''}\n${r.stack}`);
      err.code = r.code;
      throw err;
    }
    return r.value;
  }

  /// Polls `fn` in the page until it returns something truthy, and returns that.
  async until(fn, arg, timeoutMs = 60_000, what = String(fn)) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await this.eval(fn, arg);
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`${this.engine}: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /// Ends the session and stops the driver (and with it the browser).
  async close() {
    try {
      await this.session('DELETE', '');
    } catch { /* the browser is gone already */ }
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.on('exit', r));
      try { process.kill(-this.child.pid, 'SIGTERM'); } catch { /* gone */ }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    }
    rmSync(this.profileDir, { recursive: true, force: true });
  }
}
