// Sotto in a dedicated Web Worker, driven from the page: `openInWorker(options)` starts
// ./sotto-worker.js (which loads the package there), opens the profile in it and resolves with
// an object that has the methods of `Sotto` (each a promise) and dispatches the same events.
// Argon2id at unlock, file encryption and the decoding of incoming traffic then run off the
// page's main thread. See pkg/README.md, "In a Web Worker"; the protocol is described in
// ./sotto-worker.js.

/** Rebuilds an error from its fields (`{name, message, code, ...}`) on this side. */
function rebuild(fields) {
  const { message, ...rest } = fields;
  return Object.assign(new Error(message), rest);
}

/** One worker and the calls waiting for its answers. */
class Channel {
  constructor(worker) {
    this.worker = worker;
    /** What the worker pushes unasked (events, state): set by `SottoInWorker`. */
    this.onPush = () => {};
    /** Told the fields the channel ended with (`CLOSED` after `close()`/`wipe()`). */
    this.onEnd = () => {};
    this.next = 1;
    this.waiting = new Map();
    this.ended = null;
    worker.addEventListener('message', ({ data }) => {
      if (data.fatal) { this.end(data.fatal); return; }
      if (data.id === undefined) { this.onPush(data); return; }
      const call = this.waiting.get(data.id);
      if (!call) return;
      this.waiting.delete(data.id);
      if (data.error) call.reject(rebuild(data.error)); else call.resolve(data.value);
    });
    worker.addEventListener('error', (e) => {
      e.preventDefault();
      this.end({ name: 'SottoError', code: 'UNSUPPORTED', message: `the Sotto worker failed: ${e.message ?? 'it could not start'}` });
    });
    // An answer that cannot be read here never names its call: no call may wait for it for
    // ever, so the worker is stopped and every waiting call fails.
    worker.addEventListener('messageerror', () => {
      this.end({ name: 'SottoError', code: 'UNSUPPORTED', message: 'a message from the Sotto worker could not be read' });
    });
  }

  /** `method(...args)` in the worker. */
  call(method, args = []) {
    if (this.ended) return Promise.reject(rebuild(this.ended));
    const id = this.next++;
    return new Promise((resolve, reject) => {
      try {
        // Copied, never transferred: a caller's buffer stays whole (even when the call fails).
        this.worker.postMessage({ id, method, args });
      } catch (e) {
        // Arguments the structured clone refuses (a function, a DOM node): nothing was sent.
        reject(rebuild({ name: 'SottoError', code: 'INVALID_ARGUMENT', message: `${method}: an argument cannot be passed to the worker (${e.message})` }));
        return;
      }
      this.waiting.set(id, { resolve, reject });
    });
  }

  /** Stops the worker (its profile lock goes with it); calls still waiting fail with `fields`. */
  end(fields) {
    if (this.ended) return;
    this.ended = fields;
    this.worker.terminate();
    for (const { reject } of this.waiting.values()) reject(rebuild(fields));
    this.waiting.clear();
    this.onEnd(fields);
  }
}

const CLOSED = { name: 'SottoError', code: 'CLOSED', message: 'this Sotto instance was closed' };

/** Sotto running in a worker: see `openInWorker`. */
export class SottoInWorker extends EventTarget {
  #channel;
  #state;

  constructor(channel, state) {
    super();
    this.#channel = channel;
    this.#state = state;
    channel.onPush = (data) => this.#push(data);
    channel.onEnd = (fields) => this.#ended(fields);
  }

  /** The worker stopped without `close()` (it failed, or a message could not be read): the
   *  application hears it as an `error` event and the connection going `'offline'`; every call
   *  from now on rejects with the same fields. */
  #ended(fields) {
    if (fields.code === 'CLOSED') return;
    this.dispatchEvent(new CustomEvent('error', { detail: { what: 'worker', code: fields.code, error: rebuild(fields) } }));
    if (this.#state.connection !== 'offline') {
      this.#state = { ...this.#state, connection: 'offline' };
      this.dispatchEvent(new CustomEvent('connection', { detail: { state: 'offline' } }));
    }
  }

  /** Handles what the worker pushes: its events, dispatched here, and its state. */
  #push(data) {
    if (data.state) { this.#state = data.state; return; }
    if (data.event) {
      const detail = data.event === 'error' && data.detail.error
        ? { ...data.detail, error: rebuild(data.detail.error) }
        : data.detail;
      this.dispatchEvent(new CustomEvent(data.event, { detail }));
    }
  }

  /** `'online'`, `'connecting'` or `'offline'` (as of the last `connection` event). */
  get connection() { return this.#state.connection; }
  /** The profile's display name. */
  get displayName() { return this.#state.displayName; }
  /** Whether the profile was restored on another device (as of the last `moved` event). */
  get moved() { return this.#state.moved === true; }

  createInvitation() { return this.#channel.call('createInvitation'); }
  invitationQr(link) { return this.#channel.call('invitationQr', [link]); }
  acceptInvitation(link) { return this.#channel.call('acceptInvitation', [link]); }
  send(contactId, text) { return this.#channel.call('send', [contactId, text]); }
  retry(messageId) { return this.#channel.call('retry', [messageId]); }
  sendFile(contactId, file, options) { return this.#channel.call('sendFile', [contactId, file, options]); }
  attachment(messageId) { return this.#channel.call('attachment', [messageId]); }
  setDisappearing(contactId, seconds) { return this.#channel.call('setDisappearing', [contactId, seconds]); }
  securityCode(contactId) { return this.#channel.call('securityCode', [contactId]); }
  verifyContact(contactId, code) { return this.#channel.call('verifyContact', [contactId, code]); }
  unverifyContact(contactId) { return this.#channel.call('unverifyContact', [contactId]); }
  contacts() { return this.#channel.call('contacts'); }
  messages(contactId, options) { return this.#channel.call('messages', [contactId, options]); }
  setDisplayName(name) { return this.#channel.call('setDisplayName', [name]); }
  revealMnemonic(passphrase) { return this.#channel.call('revealMnemonic', [passphrase]); }
  changePassphrase(old, next) { return this.#channel.call('changePassphrase', [old, next]); }
  exportBackup() { return this.#channel.call('exportBackup'); }

  /** Closes the profile, then stops the worker. */
  async close() {
    try { await this.#channel.call('close'); } finally { this.#channel.end(CLOSED); }
  }

  /** Wipes the profile, then stops the worker. */
  async wipe() {
    try { await this.#channel.call('wipe'); } finally { this.#channel.end(CLOSED); }
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
    return new Channel(worker);
  } catch (e) {
    throw rebuild({ name: 'SottoError', code: 'UNSUPPORTED', message: `the Sotto worker could not be started (${e.message}); serve sotto-worker.js from the page's origin, or pass workerUrl` });
  }
}

/**
 * `Sotto.open(options)` in a new dedicated worker: resolves with a `SottoInWorker`, or rejects
 * with the `SottoError` of the open (and the worker is stopped). `workerUrl`: where
 * ./sotto-worker.js is served, when a bundler moved it.
 */
export async function openInWorker(options, { workerUrl } = {}) {
  return opened(start(workerUrl), 'open', options);
}

/**
 * `Sotto.restore(options)` in a new dedicated worker (Argon2id, the backup's decryption or the
 * relay snapshot's search, then the restored profile, all off the page): resolves with a
 * `SottoInWorker`, or rejects with the restore's `SottoError` (and the worker is stopped).
 */
export async function restoreInWorker(options, { workerUrl } = {}) {
  return opened(start(workerUrl), 'restore', options);
}

/** `method` ('open' or 'restore') in the worker of `channel`, as a `SottoInWorker`. */
async function opened(channel, method, options) {
  // Nothing is pushed before the answer: the worker listens once the profile is open.
  try {
    return new SottoInWorker(channel, await channel.call(method, [options]));
  } catch (e) {
    channel.end(CLOSED);
    throw e;
  }
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
