// The worker side of `openInWorker` (./worker.js): a dedicated module worker that loads the
// package, opens one `Sotto` and answers the page's calls. Not imported by hand; worker.js
// starts it with `new Worker(new URL('./sotto-worker.js', import.meta.url), {type: 'module'})`.
//
// The protocol (one port, the worker's own):
// - page → worker `{id, method, args}`: `method` is `'open'` or `'restore'` (args `[options]`),
//   `'savedProfile'`
//   (args `[profile]`) or a method of `Sotto`; answered by one `{id, value}` or
//   `{id, error}` (an error's `name`, `message` and own fields such as `code`).
// - worker → page `{event, detail}` for each of Sotto's events (`error` events carry their
//   `detail.error` as fields too), and `{state: {connection, displayName, moved}}` when they
//   change.
// - worker → page `{fatal}` (a `SottoError`'s fields) when a call could not be read: the page
//   stops the worker and fails every waiting call with it. An answer or event the structured
//   clone refuses is sent as a `SottoError` (`UNSUPPORTED`) instead; arguments it refuses on
//   the page reject at once with `INVALID_ARGUMENT`.
// Uint8Array results (exportBackup) are transferred, not copied; Blobs go by reference.
import init, { Sotto } from './sotto.js';

/** The events `openInWorker`'s object dispatches again on the page. */
const EVENTS = ['message', 'contact', 'status', 'progress', 'attachment', 'expired', 'clock', 'connection', 'snapshot', 'moved', 'error'];

/** The methods of `Sotto` the page may call (all return promises). */
const METHODS = new Set([
  'createInvitation', 'invitationQr', 'acceptInvitation', 'send', 'retry', 'sendFile', 'attachment',
  'setDisappearing', 'securityCode', 'verifyContact', 'unverifyContact', 'contacts', 'messages',
  'wipe', 'close', 'setDisplayName', 'revealMnemonic', 'changePassphrase', 'exportBackup',
]);

/** An error as plain fields that survive `postMessage` (a clone of an `Error` drops `code`). */
function errorFields(e) {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e) };
  return { ...e, name: e.name, message: e.message };
}

let me = null;
const ready = init();

function state() {
  return { connection: me.connection, displayName: me.displayName, moved: me.moved };
}

async function run(method, args) {
  await ready;
  if (method === 'savedProfile') return Sotto.savedProfile(...args);
  if (method === 'open' || method === 'restore') {
    if (me) throw Object.assign(new Error('this worker already has a profile open'), { name: 'SottoError', code: 'INVALID_ARGUMENT' });
    me = await (method === 'open' ? Sotto.open(...args) : Sotto.restore(...args));
    for (const type of EVENTS) {
      me.addEventListener(type, (e) => {
        const detail = type === 'error' && e.detail.error
          ? { ...e.detail, error: errorFields(e.detail.error) }
          : e.detail;
        // The state first: a listener of `connection` (or `moved`) reads it already changed.
        if (type === 'connection' || type === 'moved') self.postMessage({ state: state() });
        post({ event: type, detail });
      });
    }
    return state();
  }
  if (!me || !METHODS.has(method)) {
    throw Object.assign(new Error(me ? `no method ${method}` : 'no profile is open in this worker'),
      { name: 'SottoError', code: me ? 'INVALID_ARGUMENT' : 'CLOSED' });
  }
  const value = await me[method](...args);
  if (method === 'setDisplayName') self.postMessage({ state: state() });
  return value;
}

/** Posts `message`; one the structured clone refuses becomes a plain `SottoError` answer
 * (for a call) or `error` event (for an event), so that the page is never left waiting. */
function post(message, transfer = []) {
  try {
    self.postMessage(message, transfer);
  } catch (e) {
    const error = { name: 'SottoError', code: 'UNSUPPORTED', message: `the worker could not pass on its answer (${e.message})` };
    if (message.id !== undefined) self.postMessage({ id: message.id, error });
    else self.postMessage({ event: 'error', detail: { error } });
  }
}

self.addEventListener('message', async ({ data: { id, method, args } }) => {
  try {
    const value = await run(method, args);
    post({ id, value }, value instanceof Uint8Array ? [value.buffer] : []);
  } catch (e) {
    post({ id, error: errorFields(e) });
  }
});

// A call the page sent that cannot be read here names no id to answer: the page's side ends
// on it (its own `messageerror` cannot see this one), so say so and stop.
self.addEventListener('messageerror', () => {
  self.postMessage({ fatal: { name: 'SottoError', code: 'UNSUPPORTED', message: 'a call to the Sotto worker could not be read' } });
});
