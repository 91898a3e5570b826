// The Sotto PWA's entry point: loads the wasm core from /pkg/, registers the service worker and
// runs the messenger UI (welcome → chats → conversation / new chat).
import init, { Sotto, version, selfTest } from '/pkg/sotto.js';
import { dayKey, dayLabel, timeLabel, listTime, errorText } from '/web/format.js';
import {
  TIMER_CHOICES, timerLabel, attachmentView, showReady, showProgress, releaseUrls, voiceRecorder,
  glyph, CLOCK,
} from '/web/content.js';

const $ = (id) => document.getElementById(id);
const el = {
  status: $('status'), version: $('version'),
  welcomeForm: $('welcome-form'), name: $('display-name'), passphrase: $('passphrase'),
  save: $('save-device'), kiosk: $('kiosk'), welcomeError: $('welcome-error'),
  welcome: $('welcome'), messenger: $('messenger'), meName: $('me-name'),
  badge: $('kiosk-badge'), endSession: $('end-session'), lock: $('lock'), notice: $('notice'),
  newChat: $('new-chat'), chatList: $('chat-list'), noChats: $('no-chats'),
  paneEmpty: $('pane-empty'), newChatView: $('new-chat-view'), conversation: $('conversation'),
  createInvitation: $('create-invitation'), pasteInvitation: $('paste-invitation'),
  createPanel: $('create-panel'), linkOut: $('invite-link-out'), copy: $('copy-link'),
  copyStatus: $('copy-status'), qr: $('invite-qr'), createStatus: $('create-status'),
  createError: $('create-error'),
  pastePanel: $('paste-panel'), linkIn: $('invite-link-in'), connect: $('connect'),
  pasteStatus: $('paste-status'), pasteError: $('paste-error'),
  convTitle: $('conv-title'), log: $('log'), composer: $('composer'), text: $('composer-text'),
  timer: $('timer'), attach: $('attach'), fileInput: $('file-input'), record: $('record'),
};

/// Everything the session knows; thrown away whole by End session.
let session = null;
/// An invitation link the app was opened with (`/#/invite/…`), offered after the welcome.
let pendingInvite = null;

function newSession(me, kiosk) {
  return {
    me, kiosk,
    contacts: new Map(), // id → {id, displayName, messages: [], unread, lastAt}
    current: null,       // contact id on screen
    rendered: null,      // {contactId, lastDay}
    localSeq: 0,
  };
}

// ---------- start ----------

async function start() {
  if (location.hash.startsWith('#/invite/')) pendingInvite = location.href;
  try {
    await init();
    const fp = selfTest();
    el.version.textContent = `Sotto ${version()}`;
    el.status.textContent = `Sotto ${version()} is ready. This browser made a key pair (${fp}…) without sending anything anywhere.`;
    el.save.disabled = false;
    el.kiosk.disabled = false;
    document.body.dataset.ready = 'true';
    if (pendingInvite) {
      el.status.textContent += ' You opened an invitation: choose how to use Sotto, then connect.';
    }
  } catch (err) {
    el.status.textContent = `Sotto could not start in this browser: ${err.message ?? err}`;
    document.body.dataset.ready = 'error';
  }
  if ('serviceWorker' in navigator) {
    try {
      await navigator.serviceWorker.register('/web/sw.js', { scope: '/' });
    } catch (err) {
      console.warn('service worker not registered:', err);
    }
  }
}

// ---------- welcome ----------

async function openSotto(storage) {
  el.welcomeError.textContent = '';
  const displayName = el.name.value.trim();
  if (!displayName) {
    el.welcomeError.textContent = 'Please enter a display name.';
    el.name.focus();
    return;
  }
  const options = {
    directoryUrl: `${location.origin}/directory.json`,
    storage,
    profile: 'default',
    displayName,
  };
  if (storage !== 'memory' && el.passphrase.value) options.passphrase = el.passphrase.value;
  setBusy(true);
  try {
    const me = await Sotto.open(options);
    enterMessenger(me, storage === 'memory', displayName);
  } catch (err) {
    if (err?.code === 'UNSUPPORTED' && storage !== 'memory') {
      el.welcomeError.textContent = 'Saving on this device is coming soon; use without saving for now.';
    } else {
      el.welcomeError.textContent = errorText(err);
    }
  } finally {
    setBusy(false);
  }
}

function setBusy(busy) {
  el.save.disabled = busy;
  el.kiosk.disabled = busy;
  el.welcomeForm.setAttribute('aria-busy', String(busy));
}

el.welcomeForm.addEventListener('submit', (e) => { e.preventDefault(); openSotto('indexeddb'); });
el.kiosk.addEventListener('click', () => openSotto('memory'));

async function enterMessenger(me, kiosk, displayName) {
  el.passphrase.value = '';
  session = newSession(me, kiosk);
  const s = session;
  me.addEventListener('message', (e) => { if (session === s) onMessage(e.detail); });
  me.addEventListener('contact', (e) => { if (session === s) onContact(e.detail); });
  me.addEventListener('error', (e) => { if (session === s) onError(e.detail); });
  me.addEventListener('progress', (e) => { if (session === s) onProgress(e.detail); });
  me.addEventListener('attachment', (e) => { if (session === s) onAttachment(e.detail); });
  me.addEventListener('expired', (e) => { if (session === s) onExpired(e.detail); });
  el.meName.textContent = displayName;
  el.badge.hidden = !kiosk;
  el.endSession.hidden = !kiosk;
  el.lock.hidden = kiosk;
  document.body.dataset.screen = 'messenger';
  document.body.dataset.kiosk = String(kiosk);
  el.welcome.hidden = true;
  el.messenger.hidden = false;
  try {
    for (const c of await me.contacts()) upsertContact(c);
    for (const c of session.contacts.values()) {
      const history = await me.messages(c.id, { limit: 50 });
      c.messages = history.map((m) => fromApi(m));
      c.lastAt = c.messages.at(-1)?.sentAt ?? c.lastAt;
    }
  } catch (err) {
    showNotice(errorText(err));
  }
  renderList();
  showPane('empty');
  if (pendingInvite) {
    openNewChat();
    showPaste(pendingInvite);
    pendingInvite = null;
    history.replaceState(null, '', location.pathname + location.search);
  } else {
    el.newChat.focus();
  }
}

el.endSession.addEventListener('click', () => endSession(false));
el.lock.addEventListener('click', () => endSession(true));

/// Closes the Sotto and clears the screen back to the welcome. `saved`: a profile saved on this
/// device (locked, kept) rather than a session used without saving (gone).
async function endSession(saved) {
  const s = session;
  session = null;
  if (s) {
    try { await s.me.close(); } catch { /* already closed */ }
    try { s.me.free?.(); } catch { /* freed */ }
  }
  // Leave nothing on screen either.
  el.chatList.replaceChildren();
  el.log.replaceChildren();
  el.convTitle.textContent = '';
  el.text.value = '';
  el.linkOut.value = '';
  el.linkIn.value = '';
  el.qr.removeAttribute('src');
  el.qr.hidden = true;
  el.createPanel.hidden = true;
  el.pastePanel.hidden = true;
  for (const p of [el.copyStatus, el.createStatus, el.createError, el.pasteStatus, el.pasteError, el.notice, el.meName, el.welcomeError]) {
    p.textContent = '';
  }
  if (!saved) el.name.value = '';
  el.passphrase.value = '';
  el.badge.hidden = true;
  el.endSession.hidden = true;
  el.lock.hidden = true;
  el.messenger.hidden = true;
  el.welcome.hidden = false;
  document.body.dataset.screen = 'welcome';
  document.body.dataset.view = 'list';
  delete document.body.dataset.kiosk;
  el.status.textContent = saved
    ? `Locked. Your chats stay saved on this device. Sotto ${version()} is ready.`
    : `Session ended; nothing was kept. Sotto ${version()} is ready.`;
  (saved ? el.passphrase : el.name).focus();
}

// ---------- contacts and the chat list ----------

function upsertContact(c) {
  let contact = session.contacts.get(c.id);
  if (!contact) {
    contact = { id: c.id, displayName: '', messages: [], unread: 0, lastAt: Date.now(), disappearingSeconds: 0 };
    session.contacts.set(c.id, contact);
  }
  if (c.displayName) contact.displayName = c.displayName;
  if (typeof c.disappearingSeconds === 'number') contact.disappearingSeconds = c.disappearingSeconds;
  return contact;
}

const nameOf = (c) => c.displayName || 'New contact';

function onContact(detail) {
  const c = upsertContact(detail);
  renderList();
  if (session.current === c.id) {
    el.convTitle.textContent = nameOf(c);
    showTimer(c);
  }
  if (c.displayName && !c.announced) {
    c.announced = true;
    showNotice(`${c.displayName} joined your chats.`);
  }
}

function onError(detail) {
  showNotice(`A relay refused a request (${detail?.code ?? 'error'}); Sotto keeps retrying.`);
}

let noticeTimer = 0;
function showNotice(text) {
  el.notice.textContent = text;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { el.notice.textContent = ''; }, 6000);
}

function renderList() {
  const contacts = [...session.contacts.values()].sort((a, b) => b.lastAt - a.lastAt);
  el.noChats.hidden = contacts.length > 0;
  el.chatList.replaceChildren(...contacts.map((c) => {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'chat-item';
    button.dataset.contact = c.id;
    if (session.current === c.id) button.setAttribute('aria-current', 'true');
    const last = c.messages.at(-1);
    const top = document.createElement('span');
    top.className = 'chat-top';
    const name = span('chat-name', nameOf(c));
    const time = span('chat-time', last ? listTime(last.sentAt) : '');
    top.append(name, time);
    const bottom = document.createElement('span');
    bottom.className = 'chat-bottom';
    const preview = span('chat-last', last ? `${last.outgoing ? 'You: ' : ''}${previewText(last)}` : 'No messages yet');
    bottom.append(preview);
    if (c.unread > 0) {
      const badge = span('unread', String(c.unread));
      badge.setAttribute('aria-label', `${c.unread} unread`);
      bottom.append(badge);
    }
    button.append(top, bottom);
    button.addEventListener('click', () => openConversation(c.id));
    li.append(button);
    return li;
  }));
}

function previewText(m) {
  const a = m.attachment;
  if (!a) return m.text;
  if (a.voice || a.mime.startsWith('audio/')) return 'Voice note';
  return `${a.mime.startsWith('image/') ? 'Picture' : 'File'}: ${a.name}`;
}

function span(className, text) {
  const s = document.createElement('span');
  s.className = className;
  s.textContent = text;
  return s;
}

// ---------- panes ----------

function showPane(which) {
  el.paneEmpty.hidden = which !== 'empty';
  el.newChatView.hidden = which !== 'new-chat';
  el.conversation.hidden = which !== 'conversation';
  document.body.dataset.view = which === 'empty' ? 'list' : 'pane';
  if (which !== 'conversation' && session) {
    session.current = null;
    session.rendered = null;
  }
}

for (const back of document.querySelectorAll('[data-back]')) {
  back.addEventListener('click', () => {
    const from = session?.current;
    showPane('empty');
    renderList();
    const item = from && el.chatList.querySelector(`[data-contact="${CSS.escape(from)}"]`);
    (item || el.newChat).focus();
  });
}

// Escape goes back to the chat list on a phone (one pane at a time).
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && session && document.body.dataset.view === 'pane'
      && window.matchMedia('(max-width: 480px)').matches) {
    const pane = el.conversation.hidden ? el.newChatView : el.conversation;
    pane.querySelector('[data-back]')?.click();
  }
});

// ---------- new chat ----------

el.newChat.addEventListener('click', () => { openNewChat(); el.createInvitation.focus(); });

function openNewChat() {
  showPane('new-chat');
  renderList();
  el.createPanel.hidden = true;
  el.pastePanel.hidden = true;
  el.createInvitation.setAttribute('aria-pressed', 'false');
  el.pasteInvitation.setAttribute('aria-pressed', 'false');
}

el.createInvitation.addEventListener('click', async () => {
  const s = session;
  el.pastePanel.hidden = true;
  el.createPanel.hidden = false;
  el.createInvitation.setAttribute('aria-pressed', 'true');
  el.pasteInvitation.setAttribute('aria-pressed', 'false');
  el.linkOut.value = '';
  el.qr.hidden = true;
  el.copyStatus.textContent = '';
  el.createError.textContent = '';
  el.createStatus.textContent = 'Creating a one-time invitation…';
  el.createInvitation.disabled = true;
  try {
    const link = await s.me.createInvitation();
    if (session !== s) return;
    el.linkOut.value = link;
    const svg = await s.me.invitationQr(link);
    if (session !== s) return;
    el.qr.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
    el.qr.hidden = false;
    el.createStatus.textContent = 'Invitation ready. It works once; your friend appears in your chats when they connect.';
    el.linkOut.focus();
    el.linkOut.select();
  } catch (err) {
    if (session === s) {
      el.createStatus.textContent = '';
      el.createError.textContent = errorText(err);
    }
  } finally {
    el.createInvitation.disabled = false;
  }
});

el.copy.addEventListener('click', async () => {
  if (!el.linkOut.value) return;
  try {
    await navigator.clipboard.writeText(el.linkOut.value);
    el.copyStatus.textContent = 'Copied';
  } catch {
    el.linkOut.focus();
    el.linkOut.select();
    el.copyStatus.textContent = 'Could not copy automatically: the link is selected, press Ctrl+C (⌘C).';
  }
});

el.pasteInvitation.addEventListener('click', () => { showPaste(''); });

function showPaste(link) {
  el.createPanel.hidden = true;
  el.pastePanel.hidden = false;
  el.pasteInvitation.setAttribute('aria-pressed', 'true');
  el.createInvitation.setAttribute('aria-pressed', 'false');
  el.pasteError.textContent = '';
  el.pasteStatus.textContent = link ? 'You opened an invitation link. Connect to start chatting.' : '';
  el.linkIn.value = link;
  el.linkIn.focus();
}

el.pastePanel.addEventListener('submit', async (e) => {
  e.preventDefault();
  const s = session;
  const link = el.linkIn.value.trim();
  el.pasteError.textContent = '';
  if (!link) {
    el.pasteError.textContent = 'Paste an invitation link first.';
    el.linkIn.focus();
    return;
  }
  el.connect.disabled = true;
  el.pasteStatus.textContent = 'Connecting…';
  try {
    const contact = await s.me.acceptInvitation(link);
    if (session !== s) return;
    el.linkIn.value = '';
    el.pasteStatus.textContent = '';
    upsertContact(contact);
    renderList();
    openConversation(contact.id);
  } catch (err) {
    if (session === s) {
      el.pasteStatus.textContent = '';
      el.pasteError.textContent = errorText(err);
      el.linkIn.focus();
    }
  } finally {
    el.connect.disabled = false;
  }
});

// ---------- conversation ----------

function fromApi(m) {
  return {
    key: m.id, id: m.id, text: m.text, outgoing: !!m.outgoing,
    sentAt: m.sentAt, receivedAt: m.receivedAt, node: null,
    state: m.status ?? (m.outgoing ? 'sent' : 'received'),
    attachment: m.attachment ?? null, expiresAt: m.expiresAt,
  };
}

function openConversation(id) {
  const c = session.contacts.get(id);
  if (!c) return;
  showPane('conversation');
  session.current = id;
  c.unread = 0;
  el.convTitle.textContent = nameOf(c);
  showTimer(c);
  releaseUrls();
  el.log.replaceChildren();
  session.rendered = { contactId: id, lastDay: null };
  for (const m of c.messages) appendBubble(m);
  scrollToEnd();
  renderList();
  el.text.focus();
}

function appendBubble(m) {
  const r = session.rendered;
  const day = dayKey(m.sentAt);
  if (r.lastDay !== day) {
    const sep = document.createElement('p');
    sep.className = 'day';
    sep.textContent = dayLabel(m.sentAt);
    el.log.append(sep);
    r.lastDay = day;
  }
  const bubble = document.createElement('div');
  bubble.className = `bubble ${m.outgoing ? 'mine' : 'theirs'}`;
  const who = span('sr-only', m.outgoing ? 'You: ' : `${nameOf(session.contacts.get(r.contactId))}: `);
  const text = document.createElement('p');
  text.className = 'text';
  text.textContent = m.text;
  text.hidden = !m.text;
  const meta = document.createElement('span');
  meta.className = 'meta';
  bubble.append(who);
  if (m.attachment) bubble.append(attachmentView(m, loadFile));
  bubble.append(text, meta);
  m.node = bubble;
  updateBubble(m);
  el.log.append(bubble);
}

function updateBubble(m) {
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
      retry.addEventListener('click', () => (m.file ? deliverFile(m, m.contactId) : deliver(m, m.contactId)));
      parts.push(retry);
    }
  }
  meta.replaceChildren(...parts);
}

function scrollToEnd() {
  el.log.scrollTop = el.log.scrollHeight;
}

function nearEnd() {
  return el.log.scrollHeight - el.log.scrollTop - el.log.clientHeight < 80;
}

function onMessage(detail) {
  const c = upsertContact({ id: detail.contactId, displayName: '' });
  const m = fromApi({ ...detail, outgoing: false });
  if (c.messages.some((x) => x.id === m.id)) return;
  c.messages.push(m);
  c.lastAt = Date.now();
  if (session.current === c.id) {
    const stick = nearEnd();
    appendBubble(m);
    if (stick) scrollToEnd();
    if (document.hidden) c.unread += 1;
  } else {
    c.unread += 1;
  }
  renderList();
}

el.text.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    el.composer.requestSubmit();
  }
});
el.text.addEventListener('input', autosize);

function autosize() {
  el.text.rows = Math.min(6, Math.max(1, el.text.value.split('\n').length));
}

el.composer.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = el.text.value;
  if (!text.trim() || !session?.current) return;
  const c = session.contacts.get(session.current);
  const m = {
    key: `local-${++session.localSeq}`, id: null, text, outgoing: true,
    sentAt: Date.now(), state: 'sending', node: null, contactId: c.id, expiresAt: expiryFor(c),
  };
  c.messages.push(m);
  c.lastAt = Date.now();
  appendBubble(m);
  scrollToEnd();
  el.text.value = '';
  autosize();
  el.text.focus();
  renderList();
  deliver(m, c.id);
});

// ---------- pictures, files, voice notes, disappearing messages ----------

const loadFile = (id) => (id && session ? session.me.attachment(id) : Promise.resolve(null));

function findMessage(contactId, id) {
  return session.contacts.get(contactId)?.messages.find((m) => m.id === id);
}

function onProgress(d) {
  const m = findMessage(d.contactId, d.id) ?? session.contacts.get(d.contactId)?.messages.find((x) => x.pendingId === d.id);
  if (m) showProgress(m, d.done, d.total);
}

function onAttachment(d) {
  const m = findMessage(d.contactId, d.id);
  if (!m?.attachment) return;
  m.attachment.ready = d.ready;
  if (!d.ready) {
    m.state = 'failed';
    showNotice(`A file from ${nameOf(session.contacts.get(d.contactId))} could not be received.`);
  }
  updateBubble(m);
}

/// When a message written now disappears (as the library will compute it), or undefined.
const expiryFor = (c) => (c.disappearingSeconds ? Date.now() + c.disappearingSeconds * 1000 : undefined);

function onExpired(d) {
  const c = session.contacts.get(d.contactId);
  if (!c) return;
  const gone = new Set(d.ids);
  for (const m of c.messages.filter((x) => gone.has(x.id))) m.node?.remove();
  c.messages = c.messages.filter((x) => !gone.has(x.id));
  renderList();
}

for (const [seconds, label] of TIMER_CHOICES) {
  el.timer.append(new Option(label, String(seconds)));
}

function showTimer(c) {
  const value = String(c.disappearingSeconds ?? 0);
  if (![...el.timer.options].some((o) => o.value === value)) {
    el.timer.append(new Option(timerLabel(Number(value)), value));
  }
  el.timer.value = value;
  el.timer.title = c.disappearingSeconds ? `Messages disappear after ${timerLabel(c.disappearingSeconds)}` : 'Messages are kept';
}

el.timer.addEventListener('change', async () => {
  const s = session;
  const c = s?.contacts.get(s.current);
  if (!c) return;
  const seconds = Number(el.timer.value);
  try {
    await s.me.setDisappearing(c.id, seconds);
    c.disappearingSeconds = seconds;
    showTimer(c);
    showNotice(seconds ? `New messages disappear after ${timerLabel(seconds)}.` : 'New messages are kept.');
  } catch (err) {
    showNotice(errorText(err));
    showTimer(c);
  }
});

el.attach.addEventListener('click', () => el.fileInput.click());
el.fileInput.addEventListener('change', () => {
  const files = [...el.fileInput.files];
  el.fileInput.value = '';
  for (const f of files) sendFile(f, {});
});

const recorder = voiceRecorder();
el.record.hidden = !recorder.supported();
el.record.addEventListener('click', async () => {
  if (recorder.recording()) {
    el.record.setAttribute('aria-pressed', 'false');
    el.record.setAttribute('aria-label', 'Record a voice note');
    const blob = await recorder.stop();
    if (blob) sendFile(new File([blob], 'voice-note.webm', { type: blob.type }), { voice: true });
    return;
  }
  try {
    await recorder.start();
    el.record.setAttribute('aria-pressed', 'true');
    el.record.setAttribute('aria-label', 'Stop and send the voice note');
  } catch (err) {
    showNotice(`The microphone is not available: ${err.message ?? err}`);
  }
});

function sendFile(file, { voice = false }) {
  if (!session?.current) return;
  const c = session.contacts.get(session.current);
  const m = {
    key: `local-${++session.localSeq}`, id: null, text: '', outgoing: true, sentAt: Date.now(),
    state: 'sending', node: null, contactId: c.id, file, voice, expiresAt: expiryFor(c),
    attachment: { name: file.name || 'file', mime: file.type || 'application/octet-stream', size: file.size, voice, ready: true },
  };
  c.messages.push(m);
  c.lastAt = Date.now();
  appendBubble(m);
  scrollToEnd();
  renderList();
  deliverFile(m, c.id);
}

async function deliverFile(m, contactId) {
  const s = session;
  m.state = 'sending';
  updateBubble(m);
  // Progress events name the message by its id, known only once sendFile resolves; until
  // then the newest upload of this conversation is this one.
  const onProgressEarly = (e) => {
    if (e.detail.contactId === contactId && e.detail.direction === 'upload' && !m.id) showProgress(m, e.detail.done, e.detail.total);
  };
  s.me.addEventListener('progress', onProgressEarly);
  try {
    const sent = await s.me.sendFile(contactId, m.file, { voice: m.voice });
    m.id = sent.id;
    m.state = 'sent';
    delete m.file;
  } catch (err) {
    m.state = 'failed';
    if (session === s) showNotice(`A file was not sent: ${errorText(err)}`);
  } finally {
    s.me.removeEventListener('progress', onProgressEarly);
  }
  if (session === s) updateBubble(m);
}

async function deliver(m, contactId) {
  const s = session;
  m.state = 'sending';
  updateBubble(m);
  try {
    const sent = await s.me.send(contactId, m.text);
    m.id = sent.id;
    m.state = 'sent';
  } catch (err) {
    m.state = 'failed';
    if (session === s) showNotice(`A message was not sent: ${errorText(err)}`);
  }
  if (session === s) updateBubble(m);
}

// An invitation link opened while the app is already open (same document, new fragment).
window.addEventListener('hashchange', () => {
  if (!location.hash.startsWith('#/invite/')) return;
  if (session) {
    const link = location.href;
    history.replaceState(null, '', location.pathname + location.search);
    openNewChat();
    showPaste(link);
  } else {
    pendingInvite = location.href;
  }
});

start();
