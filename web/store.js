// The session store: what the page knows about the open Sotto (its contacts and the messages
// loaded so far), the profile saved on this device, and an invitation waiting to be offered.
// The one mutable state every view reads; End session throws `state.session` away whole.

import { errorText } from '/web/format.js';

/// How many messages a conversation loads at a time (on opening, and per scroll to the top).
export const PAGE = 30;
/// The profile the PWA saves on this device.
export const PROFILE = 'default';

/// The page's state, shared by the view modules.
export const state = {
  /// Everything the session knows (see `newSession`), or null when none is open.
  session: null,
  /// An invitation link the app was opened with (`/#/invite/…`), offered after the welcome.
  pendingInvite: null,
  /// The profile saved on this device: `null`, or `{passphrase}` (whether one protects it).
  saved: null,
  /// A follower (pkg/follow.js) whose leader went, still waiting for the profile's lock, after
  /// which this tab opens the profile; null otherwise.
  follower: null,
};

/// A fresh session for the opened Sotto `me`; `kiosk`: used without saving.
export function newSession(me, kiosk) {
  return {
    me, kiosk,
    contacts: new Map(), // id → {id, displayName, messages: [], unread, lastAt, complete}
    current: null,       // contact id on screen
    rendered: null,      // {contactId, lastDay}
    localSeq: 0,
  };
}

/// Runs `action(s)` for the session `s` open now, with `button` disabled until it ends (the
/// action checks `state.session === s` itself after each wait). If it fails while `s` is still
/// open: `status` (if given) is emptied, `error` shows why, and `onError` (if given) runs.
export async function whileBusy({ button, status, error, onError }, action) {
  const s = state.session;
  button.disabled = true;
  try {
    await action(s);
  } catch (err) {
    if (state.session === s) {
      if (status) status.textContent = '';
      error.textContent = errorText(err);
      onError?.();
    }
  } finally {
    button.disabled = false;
  }
}

/// Adds a contact the library told of (`{id, displayName?, disappearingSeconds?}`) to the
/// session, or updates the one known; returns the session's contact.
export function upsertContact(c) {
  const { session } = state;
  let contact = session.contacts.get(c.id);
  if (!contact) {
    // A contact made in this session has all its messages in memory: nothing older to load.
    contact = { id: c.id, displayName: '', messages: [], unread: 0, lastAt: Date.now(), complete: true, disappearingSeconds: 0 };
    session.contacts.set(c.id, contact);
  }
  if (c.displayName) contact.displayName = c.displayName;
  if (typeof c.disappearingSeconds === 'number') contact.disappearingSeconds = c.disappearingSeconds;
  if (typeof c.verified === 'boolean') contact.verified = c.verified;
  if (typeof c.sync === 'string') contact.sync = c.sync;
  return contact;
}

/// The name shown for a contact.
export const nameOf = (c) => c.displayName || 'New contact';

/// A message as the library gives it (`messages()`, a `message` event) → the page's message.
export function fromApi(m) {
  return {
    key: m.id, id: m.id, text: m.text, outgoing: !!m.outgoing,
    sentAt: aTime(m.sentAt) ?? aTime(m.receivedAt) ?? Date.now(), receivedAt: m.receivedAt, node: null,
    state: m.status ?? (m.outgoing ? 'sent' : 'received'),
    attachment: m.attachment ?? null, expiresAt: m.expiresAt,
  };
}

/// `t` (ms) if it is a time a `Date` can show (the sender's clock claims `sentAt`: a value out of
/// range would make every date formatter throw), else undefined.
const aTime = (t) => (Number.isFinite(t) && Math.abs(t) <= 8.64e15 ? t : undefined);

/// The loaded message `id` of a contact, if any.
export function findMessage(contactId, id) {
  return state.session.contacts.get(contactId)?.messages.find((m) => m.id === id);
}

/// When a message written now disappears (as the library will compute it), or undefined.
export const expiryFor = (c) => (c.disappearingSeconds ? Date.now() + c.disappearingSeconds * 1000 : undefined);
