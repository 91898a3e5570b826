// Sotto in a dedicated Web Worker, driven from the page: `openInWorker(options)` starts
// ./sotto-worker.js (which loads the package there), opens the profile in it and resolves with
// an object that has the methods of `Sotto` (each a promise) and dispatches the same events.
// Argon2id at unlock, file encryption and the decoding of incoming traffic then run off the
// page's main thread. See pkg/README.md, "In a Web Worker"; the protocol is described in
// ./rpc.js and ./sotto-worker.js. A saved profile opened so also leads the other tabs that
// follow it (./follow.js).

import { Channel, CLOSED, RemoteSotto, rebuild, sottoError } from './rpc.js';
import { lead } from './follow.js';

/** A channel to `worker` (the protocol of ./rpc.js, plus the worker's `{fatal}`). */
function workerChannel(worker) {
  const channel = new Channel({
    post: (message) => worker.postMessage(message),
    stop: () => worker.terminate(),
  });
  worker.addEventListener('message', ({ data }) => {
    if (data.fatal) channel.end(data.fatal); else channel.receive(data);
  });
  worker.addEventListener('error', (e) => {
    e.preventDefault();
    channel.end(sottoError('UNSUPPORTED', `the Sotto worker failed: ${e.message ?? 'it could not start'}`));
  });
  // An answer that cannot be read here never names its call: no call may wait for it for
  // ever, so the worker is stopped and every waiting call fails.
  worker.addEventListener('messageerror', () => {
    channel.end(sottoError('UNSUPPORTED', 'a message from the Sotto worker could not be read'));
  });
  return channel;
}

/** The method `opened` starts leading with (not part of the public API). */
const START_LEADING = Symbol('startLeading');

/** Sotto running in a worker: see `openInWorker`. */
export class SottoInWorker extends RemoteSotto {
  /** The leader that answers other tabs of this profile (`lead`), if any. */
  #leader = null;

  /** The worker stopped without `close()` (it failed, or a message could not be read): the
   *  application hears it as an `error` event and the connection going `'offline'`; every call
   *  from now on rejects with the same fields. */
  ended(fields) {
    this.#leader?.stop();
    if (fields.code === 'CLOSED') return;
    this.dispatchEvent(new CustomEvent('error', { detail: { what: 'worker', code: fields.code, error: rebuild(fields) } }));
    if (this.connection !== 'offline') {
      this.setState({ connection: 'offline', displayName: this.displayName, moved: this.moved });
      this.dispatchEvent(new CustomEvent('connection', { detail: { state: 'offline' } }));
    }
  }

  /** Other tabs of this saved profile follow this one (see `lead`). */
  async [START_LEADING](profile) {
    this.#leader = await lead(this, { profile });
  }

  /** Stops answering other tabs, closes the profile, then stops the worker. */
  async close() {
    this.#leader?.stop();
    return super.close();
  }

  /** Stops answering other tabs, wipes the profile, then stops the worker. */
  async wipe() {
    this.#leader?.stop();
    return super.wipe();
  }
}

/** A channel to a new worker running ./sotto-worker.js (or `workerUrl`). The default is
 *  written as the literal `new Worker(new URL('./sotto-worker.js', import.meta.url), …)` that
 *  bundlers (Vite, webpack 5) recognise and build with its imports. A worker that cannot be
 *  made (no module workers; a script from another origin) rejects with `UNSUPPORTED`. */
function start(workerUrl) {
  try {
    const worker = workerUrl
      ? new Worker(workerUrl, { type: 'module', name: 'sotto' })
      : new Worker(new URL('./sotto-worker.js', import.meta.url), { type: 'module', name: 'sotto' });
    return workerChannel(worker);
  } catch (e) {
    throw rebuild(sottoError('UNSUPPORTED', `the Sotto worker could not be started (${e.message}); serve sotto-worker.js from the page's origin, or pass workerUrl`));
  }
}

/**
 * `Sotto.open(options)` in a new dedicated worker: resolves with a `SottoInWorker`, or rejects
 * with the `SottoError` of the open (and the worker is stopped). `workerUrl`: where
 * ./sotto-worker.js is served, when a bundler moved it. A saved (`'indexeddb'`) profile leads
 * other tabs of it (`lead`, ./follow.js) unless `lead: false`.
 */
export async function openInWorker(options, { workerUrl, lead = true } = {}) {
  return opened(start(workerUrl), 'open', options, lead);
}

/**
 * `Sotto.restore(options)` in a new dedicated worker (Argon2id, the backup's decryption or the
 * relay snapshot's search, then the restored profile, all off the page): resolves with a
 * `SottoInWorker`, or rejects with the restore's `SottoError` (and the worker is stopped).
 */
export async function restoreInWorker(options, { workerUrl, lead = true } = {}) {
  return opened(start(workerUrl), 'restore', options, lead);
}

/** `method` ('open' or 'restore') in the worker of `channel`, as a `SottoInWorker` that
 *  leads other tabs of a saved profile when `leads`. */
async function opened(channel, method, options, leads) {
  // Nothing is pushed before the answer: the worker listens once the profile is open.
  let me;
  try {
    me = new SottoInWorker(channel, await channel.call(method, [options]));
  } catch (e) {
    channel.end(CLOSED);
    throw e;
  }
  if (leads && options?.storage === 'indexeddb') {
    // Where a browser cannot (no BroadcastChannel or Web Crypto), the profile is open all the
    // same; other tabs then get PROFILE_IN_USE as before.
    await me[START_LEADING](options.profile ?? 'default').catch(() => {});
  }
  return me;
}

/** `Sotto.savedProfile(profile)` read in a short-lived worker (no wasm on the page). */
export async function savedProfileInWorker(profile, { workerUrl } = {}) {
  const channel = start(workerUrl);
  try {
    return await channel.call('savedProfile', [profile]);
  } finally {
    channel.end(CLOSED);
  }
}
