// What the open Sotto tells the page: new messages and contacts, relay errors, file progress,
// files that arrived (or failed), disappearing messages that expired, a device clock that is
// off, whether the relays can be reached (offline / online), and a profile restored on another
// device (this copy then no longer sends or receives).
import { state, upsertContact, nameOf, fromApi, findMessage } from '/web/store.js';
import { isolate, showNotice, showClockNotice, showConnection } from '/web/dom.js';
import { showProgress } from '/web/content.js';
import { renderList, renderListSoon } from '/web/chat-list.js';
import { showTimer } from '/web/timer.js';
import { showVerified } from '/web/verify.js';
import { queueBubble, updateBubble, showTitle } from '/web/conversation.js';
import { MOVED_TEXT, errorText } from '/web/format.js';

/// Listens to the events of `me`, the Sotto of session `s`, for as long as `s` is the session.
export function listen(me, s) {
  const on = (name, handler) => me.addEventListener(name, (e) => { if (state.session === s) handler(e.detail); });
  on('message', onMessage);
  on('contact', onContact);
  on('error', onError);
  on('progress', onProgress);
  on('attachment', onAttachment);
  on('expired', onExpired);
  on('status', onStatus);
  // Offline (a banner, not an error) and back online.
  on('connection', (d) => showConnection(d.state));
  // Once per session: the relays told a time far from this device's.
  on('clock', (d) => showClockNotice(d?.offsetSeconds));
  // The profile was restored on another device: this copy stops for good.
  on('moved', () => showMoved());
  if (me.moved) showMoved();
}

/// This profile was restored on another device, which took its conversations over: a notice
/// that stays, and `data-moved` on the body (the composer can be styled off with it).
export function showMoved() {
  document.body.dataset.moved = 'true';
  showNotice(MOVED_TEXT, { sticky: true });
}

/// A message of ours changed state: e.g. one refused earlier was stored by a retry.
function onStatus(detail) {
  const m = findMessage(detail.contactId, detail.id);
  if (!m || !m.outgoing || m.state === detail.status) return;
  m.state = detail.status;
  updateBubble(m);
}

function onMessage(detail) {
  const { session } = state;
  const c = upsertContact({ id: detail.contactId, displayName: '' });
  const m = fromApi({ ...detail, outgoing: false });
  if (c.messages.some((x) => x.id === m.id)) return;
  c.messages.push(m);
  c.lastAt = Date.now();
  // Drawn at the next frame, with the rest of a burst: the state is up to date at once.
  if (session.current === c.id) {
    queueBubble(m);
    if (document.hidden) c.unread += 1;
  } else {
    c.unread += 1;
  }
  renderListSoon();
}

function onContact(detail) {
  const old = state.session.contacts.get(detail.id);
  const before = old?.displayName;
  const wasResyncing = old?.sync === 'resyncing';
  const c = upsertContact(detail);
  renderList();
  if (state.session.current === c.id) {
    showTitle(c);
    showTimer(c);
    showVerified(c);
  }
  if (detail.resynced) {
    showNotice(`${isolate(nameOf(c))}: Encryption re-established.`);
  } else if (detail.warning) {
    showNotice(`${isolate(nameOf(c))}: ${detail.warning}`, { sticky: true });
  } else if (detail.sync === 'resyncing' && !wasResyncing) {
    showNotice(`${isolate(nameOf(c))}: Re-establishing encryption…`, { sticky: true });
  } else if (before && c.displayName && before !== c.displayName) {
    showNotice(`${isolate(before)} is now called ${isolate(c.displayName)}.`);
  } else if (c.displayName && !c.announced) {
    c.announced = true;
    showNotice(`${isolate(c.displayName)} joined your chats.`);
  }
}

function onError(detail) {
  if (detail?.what === 'profile') {
    // Another tab or window took the profile over: this Sotto closed itself.
    document.body.dataset.takenOver = 'true';
    showNotice('This profile is now open in another tab or window; this one stopped. Reload to use it here.', { sticky: true });
    return;
  }
  if (detail?.what === 'frame') {
    showNotice(`Sotto could not read something its relay sent (${detail.code}); it keeps retrying.`);
    return;
  }
  if (detail?.what === 'send' && ['NO_SESSION', 'MESSAGE_EXPIRED', 'STORAGE'].includes(detail.code)) {
    // A queued message was dropped for good: nothing is retried.
    showNotice(errorText(detail));
    return;
  }
  showNotice(`A relay refused a request (${detail?.code ?? 'error'}); Sotto keeps retrying.`);
}

function onProgress(d) {
  const m = findMessage(d.contactId, d.id) ?? state.session.contacts.get(d.contactId)?.messages.find((x) => x.pendingId === d.id);
  if (m) showProgress(m, d.done, d.total);
}

function onAttachment(d) {
  const m = findMessage(d.contactId, d.id);
  if (!m?.attachment) return;
  m.attachment.ready = d.ready;
  if (!d.ready) {
    m.state = 'failed';
    showNotice(`A file from ${nameOf(state.session.contacts.get(d.contactId))} could not be received.`);
  }
  updateBubble(m);
}

function onExpired(d) {
  const c = state.session.contacts.get(d.contactId);
  if (!c) return;
  const gone = new Set(d.ids);
  for (const m of c.messages.filter((x) => gone.has(x.id))) m.node?.remove();
  c.messages = c.messages.filter((x) => !gone.has(x.id));
  renderList();
}
