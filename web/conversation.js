// A conversation: its log of bubbles (a day separator per day, older pages loaded when
// scrolled to the top), each message's state (sending, sent, not sent, with Retry), and
// delivering what the composer sends.
import { PAGE, state, nameOf, fromApi } from '/web/store.js';
import { bdi, byId, isolate, span, showNotice, perFrame } from '/web/dom.js';
import { dayKey, dayLabel, timeLabel, errorText } from '/web/format.js';
import { attachmentView, showReady, showProgress, releaseUrls, glyph, CLOCK } from '/web/content.js';
import { showPane } from '/web/panes.js';
import { renderList } from '/web/chat-list.js';
import { showTimer } from '/web/timer.js';
import { showVerified, closePanel } from '/web/verify.js';

const el = { convTitle: byId('conv-title'), log: byId('log'), text: byId('composer-text') };

/// Messages that arrived for the conversation on screen, drawn at the next frame (`queueBubble`).
let queued = [];

/// The bytes of a received or sent file, once the library has them (or null).
const loadFile = (id) => (id && state.session ? state.session.me.attachment(id) : Promise.resolve(null));

/// Opens the conversation with contact `id` in the pane.
export function openConversation(id) {
  const { session } = state;
  const c = session.contacts.get(id);
  if (!c) return;
  showPane('conversation');
  session.current = id;
  c.unread = 0;
  el.convTitle.replaceChildren(bdi('', nameOf(c)));
  showTimer(c);
  showVerified(c);
  releaseUrls();
  renderLog(c);
  scrollToEnd();
  renderList();
  el.text.focus();
  // Too few to scroll: there is no top to scroll to, so load the older ones now.
  if (el.log.scrollHeight <= el.log.clientHeight) loadOlder();
}

/// Shows a contact's (new) name in the header, when its conversation is on screen.
export function showTitle(c) {
  el.convTitle.replaceChildren(bdi('', nameOf(c)));
}

/// Empties the conversation on screen (the session ended).
export function clearConversation() {
  queued = [];
  el.log.replaceChildren();
  el.convTitle.textContent = '';
  closePanel();
}

/// Draws a conversation's loaded messages, oldest first, with a day separator per day: built
/// apart and put in the log at once (one layout, however many messages).
function renderLog(c) {
  queued = [];
  state.session.rendered = { contactId: c.id, lastDay: null };
  const all = document.createDocumentFragment();
  for (const m of c.messages) addBubble(m, all);
  el.log.replaceChildren(all);
  el.log.setAttribute('aria-busy', 'false');
}

/// Scrolled to the top: the page of older messages (from storage) goes above, the view stays
/// where it was.
async function loadOlder() {
  const s = state.session;
  const c = s?.current && s.contacts.get(s.current);
  if (!c || c.complete || c.loading) return;
  const oldest = c.messages.find((m) => m.id);
  if (!oldest) { c.complete = true; return; }
  c.loading = true;
  el.log.setAttribute('aria-busy', 'true');
  try {
    const page = await s.me.messages(c.id, { limit: PAGE, before: oldest.id });
    if (state.session !== s) return;
    const known = new Set(c.messages.map((m) => m.id));
    const older = page.filter((m) => !known.has(m.id)).map(fromApi);
    if (page.length < PAGE || older.length === 0) c.complete = true;
    if (older.length && s.current === c.id) {
      const fromBottom = el.log.scrollHeight - el.log.scrollTop;
      c.messages.unshift(...older);
      renderLog(c);
      el.log.scrollTop = el.log.scrollHeight - fromBottom;
    } else if (older.length) {
      c.messages.unshift(...older);
    }
  } catch (err) {
    if (state.session === s) showNotice(errorText(err));
  } finally {
    c.loading = false;
    if (state.session === s) el.log.setAttribute('aria-busy', 'false');
  }
}

el.log.addEventListener('scroll', () => {
  if (el.log.scrollTop < 60) loadOlder();
});

/// Draws the queued messages now, in the order they came, as one insertion into the log (one
/// layout for a burst); the log stays at its end if it was there. A message no longer of the
/// conversation on screen (another was opened, it expired) or already drawn is skipped.
function drawQueued() {
  const batch = queued;
  queued = [];
  const s = state.session;
  const c = s?.rendered && s.contacts.get(s.rendered.contactId);
  if (!c || s.current !== c.id || !batch.length) return;
  const loaded = new Set(c.messages);
  const fresh = batch.filter((m) => !m.node && loaded.has(m));
  if (!fresh.length) return;
  // Read the scroll position before writing anything: no layout forced between the writes.
  const stick = nearEnd();
  const burst = document.createDocumentFragment();
  for (const m of fresh) addBubble(m, burst);
  el.log.append(burst);
  if (stick) scrollToEnd();
}
const drawSoon = perFrame(drawQueued);

/// Shows message `m`, just arrived for the conversation on screen, at the next frame together
/// with the others that arrive before it (a burst of 200 is one DOM insertion, not 200).
export function queueBubble(m) {
  queued.push(m);
  drawSoon();
}

/// Adds a message's bubble at the end of the log, after any still queued (`queueBubble`).
export function appendBubble(m) {
  drawQueued();
  addBubble(m, el.log);
}

/// Builds a message's bubble at the end of `into` (the log, or a fragment bound for it), after
/// a day separator when the day changes.
function addBubble(m, into) {
  const r = state.session.rendered;
  const day = dayKey(m.sentAt);
  if (r.lastDay !== day) {
    const sep = document.createElement('p');
    sep.className = 'day';
    sep.textContent = dayLabel(m.sentAt);
    into.append(sep);
    r.lastDay = day;
  }
  const bubble = document.createElement('div');
  bubble.className = `bubble ${m.outgoing ? 'mine' : 'theirs'}`;
  const who = span('sr-only', m.outgoing ? 'You: ' : `${isolate(nameOf(state.session.contacts.get(r.contactId)))}: `);
  // The text as it was sent, isolated: its direction is its own and cannot spill out.
  const text = document.createElement('p');
  text.className = 'text';
  text.dir = 'auto';
  text.textContent = m.text;
  text.hidden = !m.text;
  const meta = document.createElement('span');
  meta.className = 'meta';
  bubble.append(who);
  if (m.attachment) bubble.append(attachmentView(m, loadFile));
  bubble.append(text, meta);
  m.node = bubble;
  updateBubble(m);
  into.append(bubble);
}

/// Shows a message's state in its bubble (if drawn): time, timer, Sending/Sent/Not sent.
export function updateBubble(m) {
  const bubble = m.node;
  if (!bubble) return;
  bubble.dataset.state = m.state;
  const meta = bubble.querySelector('.meta');
  const time = document.createElement('time');
  time.dateTime = new Date(m.sentAt).toISOString();
  time.textContent = timeLabel(m.sentAt);
  const parts = [time];
  if (m.expiresAt) {
    const timer = span('expires', '');
    timer.append(glyph(CLOCK));
    timer.title = `Disappears ${new Date(m.expiresAt).toLocaleString()}`;
    timer.setAttribute('aria-label', timer.title);
    parts.unshift(timer);
  }
  if (m.attachment) showReady(m, loadFile);
  if (m.outgoing) {
    const label = { sending: 'Sending…', sent: 'Sent', failed: 'Not sent' }[m.state];
    parts.push(span(`state ${m.state}`, label));
    if (m.state === 'failed') {
      const retry = document.createElement('button');
      retry.type = 'button';
      retry.className = 'retry';
      retry.textContent = 'Retry';
      retry.addEventListener('click', () => (m.file ? deliverFile(m, m.contactId, true) : deliver(m, m.contactId, true)));
      parts.push(retry);
    }
  }
  meta.replaceChildren(...parts);
}

export function scrollToEnd() {
  el.log.scrollTop = el.log.scrollHeight;
}

/// Whether the log is scrolled (nearly) to its end, so a new message should keep it there.
function nearEnd() {
  return el.log.scrollHeight - el.log.scrollTop - el.log.clientHeight < 80;
}

/// Sends a text message drawn as `m` and shows how it went. `again` (Retry after a failure):
/// the same message is sent again (`retry`, same id, no second record) when it was queued.
export async function deliver(m, contactId, again = false) {
  const s = state.session;
  m.state = 'sending';
  updateBubble(m);
  try {
    const sent = again && m.id ? await s.me.retry(m.id) : await s.me.send(contactId, m.text);
    m.id = sent.id;
    m.state = 'sent';
  } catch (err) {
    // A refused or late message stays queued under its id (a `status` event tells when it
    // is stored).
    if (err?.messageId) m.id = err.messageId;
    if (err?.code === 'RELAY_UNREACHABLE' && err.messageId) {
      // Offline: it waits in the stored outbox and goes out once a relay is reachable (the
      // offline banner says why); it is still on its way, not failed.
      m.state = 'sending';
    } else {
      m.state = 'failed';
      if (state.session === s) showNotice(`A message was not sent: ${errorText(err)}`);
    }
  }
  if (state.session === s) updateBubble(m);
}

/// Sends the file of message `m` (`m.file`, `m.voice`) with its upload progress. `again`
/// (Retry after a failure): the same message is uploaded again (`retry`, same id, no second
/// record) when the library still holds it; otherwise the file is sent anew.
export async function deliverFile(m, contactId, again = false) {
  const s = state.session;
  m.state = 'sending';
  updateBubble(m);
  // Progress events name the message by its id, known only once sendFile resolves; until
  // then the newest upload of this conversation is this one.
  const onProgressEarly = (e) => {
    if (e.detail.contactId === contactId && e.detail.direction === 'upload' && !m.id) showProgress(m, e.detail.done, e.detail.total);
  };
  s.me.addEventListener('progress', onProgressEarly);
  try {
    const retried = again && m.id
      ? await s.me.retry(m.id).catch((err) => { if (err?.code === 'INVALID_ARGUMENT') return null; throw err; })
      : null;
    const sent = retried ?? await s.me.sendFile(contactId, m.file, { voice: m.voice });
    m.id = sent.id;
    m.state = 'sent';
    delete m.file;
  } catch (err) {
    // A refused upload is kept under its id: Retry uploads that same message again.
    if (err?.messageId) m.id = err.messageId;
    m.state = 'failed';
    if (state.session === s) showNotice(`A file was not sent: ${errorText(err)}`);
  } finally {
    s.me.removeEventListener('progress', onProgressEarly);
  }
  if (state.session === s) updateBubble(m);
}
