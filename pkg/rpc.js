// The call protocol `Sotto` is driven through from another context, shared by its two uses:
// a dedicated worker (./worker.js ↔ ./sotto-worker.js) and another tab that follows the tab
// holding the profile (./follow.js, over a `BroadcastChannel`).
//
// - caller → holder `{id, method, args}`, answered by one `{id, value}` or `{id, error}` (an
//   error's `name`, `message` and own fields such as `code`);
// - holder → caller `{event, detail}` for each of Sotto's events (`error` events carry their
//   `detail.error` as fields too) and `{state: {connection, displayName, moved}}` when it
//   changes.
// The two transports add their own fields (the worker's `fatal`; the broadcast's `from`/`to`).

/** The events a `Sotto` dispatches, which a remote copy dispatches again. */
export const EVENTS = ['message', 'contact', 'status', 'progress', 'attachment', 'expired', 'clock', 'connection', 'snapshot', 'moved', 'error'];

/** The fields of a `SottoError` for a closed instance. */
export const CLOSED = { name: 'SottoError', code: 'CLOSED', message: 'this Sotto instance was closed' };

/** A `SottoError`'s fields. */
export const sottoError = (code, message) => ({ name: 'SottoError', code, message });

/** Rebuilds an error from its fields (`{name, message, code, ...}`) on this side. */
export function rebuild(fields) {
  const { message, ...rest } = fields;
  const error = new Error(message);
  // Own fields only, each defined as data: a `__proto__` field cannot replace the prototype.
  for (const [key, value] of Object.entries(rest)) {
    Object.defineProperty(error, key, { value, writable: true, enumerable: true, configurable: true });
  }
  return error;
}

/** An error as plain fields that survive `postMessage` (a clone of an `Error` drops `code`). */
export function errorFields(e) {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e) };
  return { ...e, name: e.name, message: e.message };
}

/** What a remote copy shows of the instance: `{connection, displayName, moved}`. */
export const stateOf = (me) => ({ connection: me.connection, displayName: me.displayName, moved: me.moved === true });

/**
 * Forwards every event of `me` through `post({event, detail})`, the state first
 * (`post({state})`) when the event changed it (a listener of `connection` reads it changed).
 * Returns the function that stops forwarding.
 */
export function forwardEvents(me, post) {
  const listeners = EVENTS.map((type) => {
    const listener = (e) => {
      const detail = type === 'error' && e.detail?.error
        ? { ...e.detail, error: errorFields(e.detail.error) }
        : e.detail;
      if (type === 'connection' || type === 'moved') post({ state: stateOf(me) });
      post({ event: type, detail });
    };
    me.addEventListener(type, listener);
    return [type, listener];
  });
  return () => { for (const [type, listener] of listeners) me.removeEventListener(type, listener); };
}

/**
 * Runs `method(...args)` on `me` when `allowed` has it; a `SottoError` otherwise (`CLOSED`
 * with no instance, `INVALID_ARGUMENT` for a method not allowed here, saying `why`).
 */
export async function answer(me, allowed, method, args, why = 'no such method') {
  if (!me) throw rebuild(sottoError('CLOSED', 'no profile is open here'));
  if (typeof method !== 'string' || !allowed.has(method)) {
    throw rebuild(sottoError('INVALID_ARGUMENT', `${String(method)}: ${why}`));
  }
  return me[method](...(Array.isArray(args) ? args : []));
}

/** Posts `message` through `send`; one the structured clone refuses becomes a plain
 *  `SottoError` answer (for a call) or `error` event (for an event), so no caller waits. */
export function postSafely(send, message, transfer = []) {
  try {
    send(message, transfer);
  } catch (e) {
    const error = sottoError('UNSUPPORTED', `the answer could not be passed on (${e.message})`);
    // Addressed as the answer was (`to`: the one tab whose call it answers).
    if (message.id !== undefined) send({ ...(message.to !== undefined && { to: message.to }), id: message.id, error });
    else send({ event: 'error', detail: { error } });
  }
}

/**
 * The caller's side: calls waiting for their answers. `post(message)` sends a call;
 * `stop()` is run once when the channel ends. Incoming messages are handed to `receive`.
 */
export class Channel {
  /** `deadline(method)`: how long a call of `method` waits for its answer (ms) before it
   *  rejects `TIMEOUT` (`undefined`: as long as the channel lasts); `progressed(method, args)`:
   *  for a call whose wait each of its `progress` events restarts (a file's upload), a test of a
   *  `progress` event's detail that tells whether the event is this call's; else `null`. */
  constructor({ post, stop, deadline = () => undefined, progressed = () => null, holder = 'the other side' }) {
    this.post = post;
    this.stop = stop;
    this.deadline = deadline;
    this.progressed = progressed;
    this.holder = holder;
    /** What the holder pushes unasked (events, state): set by `RemoteSotto`. */
    this.onPush = () => {};
    /** Told the fields the channel ended with. */
    this.onEnd = () => {};
    this.next = 1;
    this.waiting = new Map();
    this.ended = null;
  }

  /** One message from the holder: an answer, or something pushed. */
  receive(data) {
    if (data.id === undefined) {
      if (data.event === 'progress') for (const call of this.waiting.values()) if (call.progressed?.(data.detail ?? {})) call.arm();
      this.onPush(data);
      return;
    }
    const call = this.waiting.get(data.id);
    if (!call) return;
    this.#settled(data.id, call);
    if (data.error) call.reject(rebuild(data.error)); else call.resolve(data.value);
  }

  /** Forgets call `id` (answered, timed out or ended) and stops its timer. */
  #settled(id, call) {
    this.waiting.delete(id);
    clearTimeout(call.timer);
  }

  /** `method(...args)` on the other side. */
  call(method, args = []) {
    if (this.ended) return Promise.reject(rebuild(this.ended));
    const id = this.next++;
    return new Promise((resolve, reject) => {
      try {
        // Copied, never transferred: a caller's buffer stays whole (even when the call fails).
        this.post({ id, method, args });
      } catch (e) {
        // Arguments the structured clone refuses (a function, a DOM node): nothing was sent.
        reject(rebuild(sottoError('INVALID_ARGUMENT', `${method}: an argument cannot be passed on (${e.message})`)));
        return;
      }
      const call = { resolve, reject, progressed: this.progressed(method, args), timer: undefined, arm: () => {} };
      const ms = this.deadline(method);
      if (ms !== undefined) {
        // No answer in time: the holder is frozen or stuck (its own bounds would have settled
        // the call), so the call settles here; a later answer finds nothing waiting.
        call.arm = () => {
          clearTimeout(call.timer);
          call.timer = setTimeout(() => {
            this.#settled(id, call);
            reject(rebuild(sottoError('TIMEOUT', `${method}: ${this.holder} did not answer within ${ms / 1000} s`)));
          }, ms);
        };
        call.arm();
      }
      this.waiting.set(id, call);
    });
  }

  /** Ends the channel: calls still waiting fail with `fields`, and so does every later one. */
  end(fields) {
    if (this.ended) return;
    this.ended = fields;
    this.stop();
    for (const { reject, timer } of this.waiting.values()) {
      clearTimeout(timer);
      reject(rebuild(fields));
    }
    this.waiting.clear();
    this.onEnd(fields);
  }
}

/** `Sotto`'s methods and events, answered on the other side of a `Channel`: the base of
 *  `SottoInWorker` (./worker.js) and `SottoFollower` (./follow.js). */
export class RemoteSotto extends EventTarget {
  #channel;
  #state;

  constructor(channel, state) {
    super();
    this.#channel = channel;
    this.#state = state;
    channel.onPush = (data) => this.#push(data);
    channel.onEnd = (fields) => this.ended(fields);
  }

  /** Told once when the channel ended (`fields`: its `SottoError`); subclasses say how the
   *  application hears it. */
  ended(fields) { return fields; }

  /** Sets the state shown (`connection`, `displayName`, `moved`); a subclass may change it. */
  setState(state) { this.#state = state; }

  /** Handles what the other side pushes: its events, dispatched here, and its state. */
  #push(data) {
    if (data.state) { this.#state = data.state; return; }
    if (data.event) {
      const detail = data.event === 'error' && data.detail?.error
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

  /** Closes the profile on the other side, then ends the channel. */
  async close() {
    try { await this.#channel.call('close'); } finally { this.#channel.end(CLOSED); }
  }

  /** Wipes the profile on the other side, then ends the channel. */
  async wipe() {
    try { await this.#channel.call('wipe'); } finally { this.#channel.end(CLOSED); }
  }
}
