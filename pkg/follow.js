// One profile, several tabs: the tab that holds the profile open (its Web Lock, see
// pkg/README.md "Storage") *leads*, and other tabs of the same origin *follow* it: they show
// its history and send through it, without loading the profile's state themselves. When the
// leader goes, the lock passes on and a follower can open the profile itself.
//
// The protocol of ./rpc.js, over a `BroadcastChannel` named as the profile's Web Lock
// (`profileLockName`). Every message carries `from` (a random id per tab and role); those for
// one tab carry `to`:
// - follower → all `{hello}`: the leader answers `{welcome: state}` (the follower takes the
//   first welcome, within HELLO_MS);
// - follower → leader `{id, method, args}` (answered `{id, value}` / `{id, error}`), `{leave}`;
// - leader → all `{event, detail}`, `{state}` (once a follower said hello), `{bye}` when it
//   stops (closed, taken over, `stop()`).
// A follower also waits on the profile's lock (never `steal`): it is granted once no tab holds
// the profile, however the leader went (closed, crashed, taken over and then closed).
//
// No secret crosses the channel: the leader refuses every method outside FOLLOWER_METHODS
// (which would end or delete the profile or reveal its secrets). Message texts do, as they
// reach the page anyway; a BroadcastChannel reaches only scripts of the same origin, which can
// open the profile's database and Web Lock themselves.
import { answer, Channel, CLOSED, errorFields, forwardEvents, postSafely, rebuild, RemoteSotto, sottoError, stateOf } from './rpc.js';

/** How long `followProfile` waits for a leader to answer its hello (ms). */
export const HELLO_MS = 5000;

/** The methods a follower may call through the leader (an allow-list: anything else, such as
 *  `close`, `wipe`, `revealMnemonic`, `changePassphrase` or `exportBackup`, is refused). */
export const FOLLOWER_METHODS = new Set([
  'createInvitation', 'invitationQr', 'acceptInvitation', 'send', 'retry', 'sendFile', 'attachment',
  'setDisappearing', 'securityCode', 'verifyContact', 'unverifyContact', 'contacts', 'messages',
  'setDisplayName',
]);

/** How long a follower's call waits for the leader's answer (ms) before it rejects `TIMEOUT`:
 *  a leader that runs answers within its own bounds (pkg/README.md, "Every promise settles"),
 *  so this settles the calls of one that stopped answering while it still holds the profile (a
 *  frozen or stuck tab). The calls that wait for the network (`NETWORK_METHODS`): the
 *  leader's own backstop (40 s) and 5 s for the channel, counted for `sendFile` and `retry`
 *  from the last `progress` event (an upload's, as the leader counts it); every other call is
 *  answered from the leader's storage: 10 s. */
export const CALL_MS = { network: 45_000, local: 10_000 };

/** The follower's methods that wait for the network on the leader. */
const NETWORK_METHODS = new Set(['createInvitation', 'acceptInvitation', 'send', 'retry', 'sendFile']);

/** For a call `method(...args)` whose bound counts from its upload's last `progress` event, a
 *  test of a `progress` event's detail that tells whether it is that upload's: `sendFile`'s is an
 *  upload to its contact (`args[0]`), `retry`'s an upload of its message (`args[0]`); `null` for
 *  every other call. (Channel's `progressed`.) */
export function uploadProgress(method, [target] = []) {
  if (method === 'sendFile') return (d) => d.direction === 'upload' && d.contactId === target;
  if (method === 'retry') return (d) => d.direction === 'upload' && d.id === target;
  return null;
}

const REFUSED = 'not available in a tab that follows another (it ends or deletes the profile, or shows its secrets): call it in the tab that has the profile open';

/** What a follower's calls reject with once its leader is gone. */
const GONE = sottoError('CLOSED', 'the tab this one followed no longer has the profile open');

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const randomId = () => hex(crypto.getRandomValues(new Uint8Array(8)));

/**
 * The name of the profile's Web Lock, which its `BroadcastChannel` shares:
 * `sotto-profile/` and the profile's IndexedDB name, `sotto-<hex of SHA-256("sotto/v1/profile-db"
 * ‖ profile)[..8]>` (crates/sotto-wasm: `storage::db_name`, `driver::lock`).
 */
export async function profileLockName(profile = 'default') {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`sotto/v1/profile-db${profile}`));
  return `sotto-profile/sotto-${hex(new Uint8Array(digest).subarray(0, 8))}`;
}

function unsupported(what) {
  return rebuild(sottoError('UNSUPPORTED', `this browser has no ${what}: a profile cannot be shared between tabs here`));
}

/** The leader of a profile: see `lead`. */
class Leader {
  #me;
  #id = randomId();
  #channel;
  #followers = new Set();
  #unforward;
  #onError;
  #sent = '';
  #stopped = false;

  constructor(me, name) {
    this.#me = me;
    this.#channel = new BroadcastChannel(name);
    this.#channel.addEventListener('message', ({ data }) => this.#receive(data));
    this.#unforward = forwardEvents(me, (m) => this.#broadcast(m));
    // Taken over by another tab: this copy closed itself (its `error` event went out first).
    this.#onError = (e) => { if (e.detail?.what === 'profile') this.stop(); };
    me.addEventListener('error', this.#onError);
  }

  /** Whether it still answers (false once stopped). */
  get leading() { return !this.#stopped; }

  /** Posts to every tab of the profile, itself named `from`. */
  #post(message) {
    postSafely((m) => this.#channel.postMessage({ ...m, from: this.#id }), message);
  }

  /** An event or state for the followers (none: nothing is posted); a changed state first. */
  #broadcast(message) {
    if (this.#stopped || this.#followers.size === 0) return;
    const state = JSON.stringify(stateOf(this.#me));
    if (message.state || state !== this.#sent) {
      this.#sent = state;
      this.#post({ state: stateOf(this.#me) });
    }
    if (!message.state) this.#post(message);
  }

  async #receive(data) {
    if (this.#stopped || !data || typeof data !== 'object') return;
    if (typeof data.hello === 'string') {
      // A closed instance (its own close(), or a dead worker) answers no hello.
      try {
        await this.#me.contacts();
      } catch (e) {
        if (e?.code === 'CLOSED') this.stop();
        return;
      }
      if (this.#stopped) return;
      this.#followers.add(data.hello);
      this.#sent = JSON.stringify(stateOf(this.#me));
      this.#post({ to: data.hello, welcome: stateOf(this.#me) });
      return;
    }
    if (data.to !== this.#id || typeof data.from !== 'string') return;
    if (data.leave) { this.#followers.delete(data.from); return; }
    if (data.id === undefined) return;
    const reply = { to: data.from, id: data.id };
    try {
      const value = await answer(this.#me, FOLLOWER_METHODS, data.method, data.args, REFUSED);
      this.#post({ ...reply, value });
      if (data.method === 'setDisplayName') this.#broadcast({ state: true });
    } catch (e) {
      this.#post({ ...reply, error: errorFields(e) });
      // The instance is closed: followers hear `bye` (and the lock comes free for them).
      if (e?.code === 'CLOSED') this.stop();
    }
  }

  /** Stops answering: followers are told (`bye`) and their calls reject `CLOSED`. The
   *  profile stays open here. Idempotent. */
  stop() {
    if (this.#stopped) return;
    this.#unforward();
    this.#me.removeEventListener('error', this.#onError);
    this.#post({ bye: true });
    this.#stopped = true;
    this.#channel.close();
  }
}

/**
 * Makes `me` (an open `Sotto`, or a `SottoInWorker`, of the saved profile `profile`) answer the
 * tabs that follow the profile (`followProfile`): their calls in FOLLOWER_METHODS, and every
 * event of `me` forwarded to them. Resolves with `{leading, stop()}`. It stops by itself when
 * `me` is taken over, or found closed (at the next hello or call); call `stop()` before
 * `me.close()` to tell followers at once (they learn it anyway once the profile's lock is
 * released). `openInWorker` leads by itself. `UNSUPPORTED` without `BroadcastChannel` or Web
 * Crypto.
 */
export async function lead(me, { profile = 'default' } = {}) {
  if (typeof BroadcastChannel !== 'function') throw unsupported('BroadcastChannel');
  if (!globalThis.crypto?.subtle) throw unsupported('Web Crypto');
  return new Leader(me, await profileLockName(profile));
}

/** A tab that follows the one holding the profile: see `followProfile`. */
export class SottoFollower extends RemoteSotto {
  #channel;
  #leave;
  #closed = false;

  constructor(channel, state, leave) {
    super(channel, state);
    this.#channel = channel;
    this.#leave = leave;
  }

  /** The leader went: calls reject `CLOSED`, and the application hears `leader`
   *  `{state: 'gone'}` (unless it closed this follower itself). */
  ended() {
    if (!this.#closed) this.dispatchEvent(new CustomEvent('leader', { detail: { state: 'gone' } }));
  }

  /** The profile's lock came free (no tab holds it): `leader` `{state: 'free'}`, after `gone`. */
  lockFree() {
    if (this.#closed) return;
    this.#channel.end(GONE);
    this.dispatchEvent(new CustomEvent('leader', { detail: { state: 'free' } }));
  }

  /** Stops following (the profile stays open in the leader's tab); calls still waiting reject
   *  `CLOSED`, and no `leader` event follows. */
  async close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#leave();
    this.#channel.end(CLOSED);
  }

  /** Asks the leader, which refuses it (`INVALID_ARGUMENT`): a follower never deletes the
   *  profile. */
  wipe() { return this.#channel.call('wipe'); }
}

/**
 * Follows the tab that holds the saved profile `profile`: resolves with a `SottoFollower` (the
 * methods, getters and events of `SottoInWorker`, answered by that tab) once its leader
 * answers, within HELLO_MS (5 s). Rejects `PROFILE_IN_USE` when the profile is held but no
 * leader answered in time (it is open in a tab that does not lead, or still opening), `CLOSED`
 * when no tab holds it (open it here instead), `UNSUPPORTED` without `BroadcastChannel`, Web
 * Locks or Web Crypto. The follower's `leader` events: `{state: 'gone'}` when the leader
 * stops (every waiting and later call rejects `CLOSED`), then `{state: 'free'}` once the
 * profile's lock is free: open the profile here (`openInWorker`, `Sotto.open`).
 */
export async function followProfile({ profile = 'default' } = {}) {
  if (typeof BroadcastChannel !== 'function') throw unsupported('BroadcastChannel');
  if (!globalThis.navigator?.locks) throw unsupported('Web Locks');
  if (!globalThis.crypto?.subtle) throw unsupported('Web Crypto');
  const name = await profileLockName(profile);
  const id = randomId();
  const broadcast = new BroadcastChannel(name);
  const abort = new AbortController();
  let leader = null;
  let follower = null;
  let free = false;
  let settle;
  const welcomed = new Promise((resolve, reject) => { settle = { resolve, reject }; });

  // Granted once no tab holds the profile; released at once, for the application to open it.
  navigator.locks.request(name, { mode: 'exclusive', signal: abort.signal }, () => {}).then(() => {
    free = true;
    if (follower) follower.lockFree();
    else settle.reject(rebuild(sottoError('CLOSED', 'no tab has this profile open: open it here')));
  }, () => { /* aborted: this follower was closed */ });

  const channel = new Channel({
    post: (message) => broadcast.postMessage({ ...message, from: id, to: leader }),
    stop: () => broadcast.close(),
    deadline: (method) => (NETWORK_METHODS.has(method) ? CALL_MS.network : CALL_MS.local),
    progressed: uploadProgress,
    holder: 'the tab this one follows',
  });
  broadcast.addEventListener('message', ({ data }) => {
    if (!data || typeof data !== 'object') return;
    if (leader === null) {
      if (data.to === id && data.welcome && typeof data.from === 'string') {
        leader = data.from;
        settle.resolve(data.welcome);
      }
      return;
    }
    if (data.from !== leader || (data.to !== undefined && data.to !== id)) return;
    if (data.bye) channel.end(GONE);
    else if (data.welcome === undefined) channel.receive(data);
  });
  // An answer that cannot be read here never names its call: no call may wait for it for
  // ever, so following ends, as the worker bridge's channel does, and every waiting call
  // fails. (Before the welcome, the hello's own deadline settles.)
  broadcast.addEventListener('messageerror', () => {
    if (leader !== null) channel.end(sottoError('UNSUPPORTED', 'a message from the tab this one follows could not be read'));
  });
  const timer = setTimeout(() => settle.reject(rebuild(sottoError(
    'PROFILE_IN_USE',
    `no tab that has this profile open answered within ${HELLO_MS / 1000} s: it does not share the profile, or is still opening it`,
  ))), HELLO_MS);
  broadcast.postMessage({ hello: id, from: id });
  let state;
  try {
    state = await welcomed;
  } catch (e) {
    abort.abort();
    broadcast.close();
    throw e;
  } finally {
    clearTimeout(timer);
  }
  follower = new SottoFollower(channel, state, () => {
    abort.abort();
    if (!channel.ended) broadcast.postMessage({ from: id, to: leader, leave: true });
  });
  // The leader went (or the lock came free) before this object was made: the application
  // hears it once it holds the object.
  if (channel.ended || free) {
    setTimeout(() => {
      if (channel.ended) follower.ended();
      if (free) follower.lockFree();
    }, 0);
  }
  return follower;
}
