// The worker side of `openInWorker` (./worker.js): a dedicated module worker that loads the
// package, opens one `Sotto` and answers the page's calls. Not imported by hand; worker.js
// starts it with `new Worker(new URL('./sotto-worker.js', import.meta.url), {type: 'module'})`.
//
// The protocol (one port, the worker's own; ./rpc.js holds the parts shared with ./follow.js):
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
import { answer, errorFields, forwardEvents, postSafely, rebuild, sottoError, stateOf } from './rpc.js';

/** The methods of `Sotto` the page may call (all return promises). */
const METHODS = new Set([
  'createInvitation', 'invitationQr', 'acceptInvitation', 'send', 'retry', 'sendFile', 'attachment',
  'setDisappearing', 'securityCode', 'verifyContact', 'unverifyContact', 'contacts', 'messages',
  'wipe', 'close', 'setDisplayName', 'revealMnemonic', 'changePassphrase', 'exportBackup',
]);

let me = null;
const ready = init();
const post = (message, transfer = []) => postSafely((m, t) => self.postMessage(m, t), message, transfer);

async function run(method, args) {
  await ready;
  if (method === 'savedProfile') return Sotto.savedProfile(...args);
  if (method === 'open' || method === 'restore') {
    if (me) throw rebuild(sottoError('INVALID_ARGUMENT', 'this worker already has a profile open'));
    me = await (method === 'open' ? Sotto.open(...args) : Sotto.restore(...args));
    forwardEvents(me, (m) => post(m));
    return stateOf(me);
  }
  const value = await answer(me, METHODS, method, args);
  if (method === 'setDisplayName') self.postMessage({ state: stateOf(me) });
  return value;
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
  self.postMessage({ fatal: sottoError('UNSUPPORTED', 'a call to the Sotto worker could not be read') });
});
