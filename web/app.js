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
  unlockForm: $('unlock-form'), unlockText: $('unlock-text'), unlockField: $('unlock-field'),
  unlockPassphrase: $('unlock-passphrase'), unlock: $('unlock'), unlockGuest: $('unlock-guest'),
  unlockError: $('unlock-error'),
  update: $('update'), updateReload: $('update-reload'),
  openSettings: $('open-settings'), settingsView: $('settings-view'),
  nameForm: $('name-form'), settingsName: $('settings-name'), saveName: $('save-name'),
  nameStatus: $('name-status'), nameError: $('name-error'),
  kioskSettings: $('kiosk-settings'), savedSettings: $('saved-settings'),
  wordsForm: $('words-form'), wordsPassField: $('words-pass-field'), wordsPassphrase: $('words-passphrase'),
  wordsConfirmField: $('words-confirm-field'), wordsConfirm: $('words-confirm'), showWords: $('show-words'),
  wordsError: $('words-error'), wordsPanel: $('words-panel'), words: $('words'), hideWords: $('hide-words'),
  exportBackup: $('export-backup'), backupStatus: $('backup-status'), backupError: $('backup-error'),
  relayForm: $('relay-form'), directoryUrl: $('directory-url'), saveDirectory: $('save-directory'),
  directoryStatus: $('directory-status'), directoryError: $('directory-error'),
  deleteProfile: $('delete-profile'), deleteConfirm: $('delete-confirm'), deleteYes: $('delete-yes'),
  deleteCancel: $('delete-cancel'), deleteError: $('delete-error'),
  scan: $('scan-qr'), scanner: $('scanner'), scannerVideo: $('scanner-video'), scanStop: $('scan-stop'),
};

/// How many messages a conversation loads at a time (on opening, and per scroll to the top).
const PAGE = 30;
/// The profile the PWA saves on this device.
const PROFILE = 'default';
/// localStorage key of the relay directory URL chosen in Settings (saved profiles only).
const DIRECTORY_KEY = 'sotto.directoryUrl';

/// Everything the session knows; thrown away whole by End session.
let session = null;
/// An invitation link the app was opened with (`/#/invite/…`), offered after the welcome.
let pendingInvite = null;
/// The profile saved on this device: `null`, or `{passphrase}` (whether one protects it).
let saved = null;

function newSession(me, kiosk) {
  return {
    me, kiosk,
    contacts: new Map(), // id → {id, displayName, messages: [], unread, lastAt, complete}
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
    try {
      saved = await Sotto.savedProfile(PROFILE);
    } catch {
      saved = null; // no IndexedDB here (some private modes): offer the welcome
    }
    if (pendingInvite) {
      el.status.textContent += ' You opened an invitation: choose how to use Sotto, then connect.';
    }
  } catch (err) {
    el.status.textContent = `Sotto could not start in this browser: ${err.message ?? err}`;
    document.body.dataset.ready = 'error';
    return;
  }
  if (saved) {
    // Only a device that keeps a profile keeps the app (service worker and its cache).
    registerServiceWorker();
    showUnlock();
    document.body.dataset.ready = 'true';
    if (!saved.passphrase) await openSaved(null);
  } else {
    document.body.dataset.ready = 'true';
    forgetDevice();
  }
}

// ---------- service worker: offline app shell and updates ----------

let reloadOnUpdate = false;

async function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return;
  try {
    const reg = await navigator.serviceWorker.register('/web/sw.js', { scope: '/' });
    const offer = (worker) => {
      el.update.hidden = false;
      el.updateReload.onclick = () => {
        reloadOnUpdate = true;
        el.updateReload.disabled = true;
        worker.postMessage({ type: 'skip-waiting' });
      };
    };
    if (reg.waiting && navigator.serviceWorker.controller) offer(reg.waiting);
    reg.addEventListener('updatefound', () => {
      const worker = reg.installing;
      worker?.addEventListener('statechange', () => {
        if (worker.state === 'installed' && navigator.serviceWorker.controller) offer(worker);
      });
    });
  } catch (err) {
    console.warn('service worker not registered:', err);
  }
}

if ('serviceWorker' in navigator) {
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (reloadOnUpdate) location.reload();
  });
}

/// Leaves nothing of Sotto in this browser's storage: no service worker, no Cache Storage, no
/// localStorage. For a device without a saved profile (a kiosk session, a deleted profile).
async function forgetDevice() {
  try { localStorage.removeItem(DIRECTORY_KEY); } catch { /* no localStorage */ }
  try {
    for (const reg of await navigator.serviceWorker?.getRegistrations?.() ?? []) await reg.unregister();
  } catch { /* none */ }
  try {
    for (const key of await caches.keys()) await caches.delete(key);
  } catch { /* no Cache Storage */ }
}

function directoryUrl() {
  let url = null;
  try { url = localStorage.getItem(DIRECTORY_KEY); } catch { /* none */ }
  return url || `${location.origin}/directory.json`;
}

// ---------- locked profile ----------

function showUnlock() {
  el.welcomeForm.hidden = true;
  el.unlockForm.hidden = false;
  el.unlockError.textContent = '';
  el.unlockField.hidden = !saved?.passphrase;
  el.unlockText.textContent = saved?.passphrase
    ? 'A profile is saved on this device. Enter its passphrase to open it.'
    : 'A profile is saved on this device.';
  el.unlock.textContent = saved?.passphrase ? 'Unlock' : 'Open';
  (saved?.passphrase ? el.unlockPassphrase : el.unlock).focus();
}

function showWelcomeForm() {
  el.unlockForm.hidden = true;
  el.welcomeForm.hidden = false;
  // A second profile is not offered while one is saved: only a session without saving.
  el.save.hidden = !!saved;
  el.passphrase.closest('.field').hidden = !!saved;
  el.name.focus();
}

el.unlockForm.addEventListener('submit', (e) => {
  e.preventDefault();
  openSaved(saved?.passphrase ? el.unlockPassphrase.value : null);
});
el.unlockGuest.addEventListener('click', showWelcomeForm);

/// Opens the profile saved on this device.
async function openSaved(passphrase) {
  el.unlockError.textContent = '';
  if (saved?.passphrase && !passphrase) {
    el.unlockError.textContent = 'Enter your passphrase.';
    el.unlockPassphrase.focus();
    return;
  }
  el.unlock.disabled = true;
  el.unlockForm.setAttribute('aria-busy', 'true');
  el.status.textContent = 'Opening your profile…';
  try {
    const options = { directoryUrl: directoryUrl(), storage: 'indexeddb', profile: PROFILE };
    if (passphrase) options.passphrase = passphrase;
    const me = await Sotto.open(options);
    el.unlockPassphrase.value = '';
    el.unlockForm.hidden = true;
    el.welcomeForm.hidden = false;
    await enterMessenger(me, false, me.displayName);
  } catch (err) {
    el.unlockForm.hidden = false;
    el.welcomeForm.hidden = true;
    el.unlockError.textContent = errorText(err);
    el.unlockPassphrase.focus();
    el.unlockPassphrase.select();
  } finally {
    el.unlock.disabled = false;
    el.unlockForm.removeAttribute('aria-busy');
    el.status.textContent = `Sotto ${version()} is ready.`;
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
    if (storage !== 'memory') {
      saved = { passphrase: !!options.passphrase };
      registerServiceWorker();
    }
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

// With a profile already saved, the welcome form only offers a session without saving.
el.welcomeForm.addEventListener('submit', (e) => { e.preventDefault(); openSotto(saved ? 'memory' : 'indexeddb'); });
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
  el.kioskSettings.hidden = !kiosk;
  el.savedSettings.hidden = kiosk;
  document.body.dataset.screen = 'messenger';
  document.body.dataset.kiosk = String(kiosk);
  el.welcome.hidden = true;
  el.messenger.hidden = false;
  try {
    for (const c of await me.contacts()) upsertContact(c);
    for (const c of session.contacts.values()) {
      const history = await me.messages(c.id, { limit: PAGE });
      c.messages = history.map((m) => fromApi(m));
      c.complete = history.length < PAGE;
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

el.endSession.addEventListener('click', () => endSession({ locked: false }));
el.lock.addEventListener('click', () => endSession({ locked: true }));

/// Closes the Sotto and clears the screen. `locked`: the saved profile stays on this device and
/// the unlock screen follows; otherwise the session (used without saving) is gone, and a device
/// without a saved profile is left with nothing of Sotto (`forgetDevice`).
async function endSession({ locked }) {
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
  stopScanning();
  clearSettings();
  for (const p of [el.copyStatus, el.createStatus, el.createError, el.pasteStatus, el.pasteError, el.notice, el.meName, el.welcomeError]) {
    p.textContent = '';
  }
  document.title = 'Sotto';
  el.name.value = '';
  el.passphrase.value = '';
  el.badge.hidden = true;
  el.endSession.hidden = true;
  el.lock.hidden = true;
  el.messenger.hidden = true;
  el.welcome.hidden = false;
  document.body.dataset.screen = 'welcome';
  document.body.dataset.view = 'list';
  delete document.body.dataset.kiosk;
  if (locked && saved) {
    el.status.textContent = `Locked. Your chats stay saved on this device. Sotto ${version()} is ready.`;
    showUnlock();
  } else {
    el.status.textContent = `Session ended; nothing was kept. Sotto ${version()} is ready.`;
    if (!saved) await forgetDevice();
    if (saved) showUnlock();
    else showWelcomeForm();
  }
}

// A session used without saving also leaves nothing when the tab closes.
window.addEventListener('pagehide', () => {
  if (session?.kiosk && !saved) forgetDevice();
});

// ---------- contacts and the chat list ----------

function upsertContact(c) {
  let contact = session.contacts.get(c.id);
  if (!contact) {
    // A contact made in this session has all its messages in memory: nothing older to load.
    contact = { id: c.id, displayName: '', messages: [], unread: 0, lastAt: Date.now(), complete: true, disappearingSeconds: 0 };
    session.contacts.set(c.id, contact);
  }
  if (c.displayName) contact.displayName = c.displayName;
  if (typeof c.disappearingSeconds === 'number') contact.disappearingSeconds = c.disappearingSeconds;
  return contact;
}

const nameOf = (c) => c.displayName || 'New contact';

function onContact(detail) {
  const before = session.contacts.get(detail.id)?.displayName;
  const c = upsertContact(detail);
  renderList();
  if (session.current === c.id) {
    el.convTitle.textContent = nameOf(c);
    showTimer(c);
  }
  if (before && c.displayName && before !== c.displayName) {
    showNotice(`${before} is now called ${c.displayName}.`);
  } else if (c.displayName && !c.announced) {
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
  const unread = contacts.reduce((n, c) => n + c.unread, 0);
  document.title = unread > 0 ? `(${unread}) Sotto` : 'Sotto';
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
  el.settingsView.hidden = which !== 'settings';
  el.conversation.hidden = which !== 'conversation';
  el.openSettings.setAttribute('aria-pressed', String(which === 'settings'));
  if (which !== 'new-chat') stopScanning();
  if (which !== 'settings') clearSettings();
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
    const pane = [el.conversation, el.newChatView, el.settingsView].find((p) => !p.hidden);
    pane?.querySelector('[data-back]')?.click();
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
  renderLog(c);
  scrollToEnd();
  renderList();
  el.text.focus();
  // Too few to scroll: there is no top to scroll to, so load the older ones now.
  if (el.log.scrollHeight <= el.log.clientHeight) loadOlder();
}

/// Draws a conversation's loaded messages, oldest first, with a day separator per day.
function renderLog(c) {
  el.log.replaceChildren();
  session.rendered = { contactId: c.id, lastDay: null };
  for (const m of c.messages) appendBubble(m);
  el.log.setAttribute('aria-busy', 'false');
}

/// Scrolled to the top: the page of older messages (from storage) goes above, the view stays
/// where it was.
async function loadOlder() {
  const s = session;
  const c = s?.current && s.contacts.get(s.current);
  if (!c || c.complete || c.loading) return;
  const oldest = c.messages.find((m) => m.id);
  if (!oldest) { c.complete = true; return; }
  c.loading = true;
  el.log.setAttribute('aria-busy', 'true');
  try {
    const page = await s.me.messages(c.id, { limit: PAGE, before: oldest.id });
    if (session !== s) return;
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
    if (session === s) showNotice(errorText(err));
  } finally {
    c.loading = false;
    if (session === s) el.log.setAttribute('aria-busy', 'false');
  }
}

el.log.addEventListener('scroll', () => {
  if (el.log.scrollTop < 60) loadOlder();
});

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

// ---------- settings ----------

el.openSettings.addEventListener('click', () => {
  if (!session) return;
  showPane('settings');
  renderList();
  el.settingsName.value = session.me.displayName;
  el.wordsPassField.hidden = !saved?.passphrase;
  el.wordsConfirmField.hidden = !!saved?.passphrase;
  let stored = '';
  try { stored = localStorage.getItem(DIRECTORY_KEY) ?? ''; } catch { /* none */ }
  el.directoryUrl.value = stored || `${location.origin}/directory.json`;
  el.settingsName.focus();
});

/// Forgets what Settings showed (the recovery words above all) and any half-done step.
function clearSettings() {
  el.words.replaceChildren();
  el.wordsPanel.hidden = true;
  el.wordsForm.hidden = false;
  el.wordsPassphrase.value = '';
  el.wordsConfirm.checked = false;
  el.deleteConfirm.hidden = true;
  el.deleteProfile.hidden = false;
  for (const p of [el.nameStatus, el.nameError, el.wordsError, el.backupStatus, el.backupError,
    el.directoryStatus, el.directoryError, el.deleteError]) p.textContent = '';
}

el.nameForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const s = session;
  const name = el.settingsName.value.trim();
  el.nameStatus.textContent = '';
  el.nameError.textContent = '';
  if (!name) {
    el.nameError.textContent = 'Please enter a display name.';
    el.settingsName.focus();
    return;
  }
  el.saveName.disabled = true;
  try {
    await s.me.setDisplayName(name);
    if (session !== s) return;
    el.meName.textContent = name;
    el.nameStatus.textContent = s.contacts.size > 0
      ? `Saved. Your contacts will see “${name}”.`
      : `Saved. New contacts will see “${name}”.`;
  } catch (err) {
    if (session === s) el.nameError.textContent = errorText(err);
  } finally {
    el.saveName.disabled = false;
  }
});

el.wordsForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const s = session;
  el.wordsError.textContent = '';
  let passphrase = null;
  if (saved?.passphrase) {
    passphrase = el.wordsPassphrase.value;
    if (!passphrase) {
      el.wordsError.textContent = 'Enter your passphrase first.';
      el.wordsPassphrase.focus();
      return;
    }
  } else if (!el.wordsConfirm.checked) {
    el.wordsError.textContent = 'Confirm that nobody else can see your screen first.';
    el.wordsConfirm.focus();
    return;
  }
  el.showWords.disabled = true;
  try {
    const phrase = await s.me.revealMnemonic(passphrase);
    if (session !== s) return;
    el.wordsPassphrase.value = '';
    el.words.replaceChildren(...phrase.split(' ').map((w) => {
      const li = document.createElement('li');
      li.textContent = w;
      return li;
    }));
    el.wordsForm.hidden = true;
    el.wordsPanel.hidden = false;
    el.hideWords.focus();
  } catch (err) {
    if (session === s) {
      el.wordsError.textContent = errorText(err);
      el.wordsPassphrase.select();
    }
  } finally {
    el.showWords.disabled = false;
  }
});

el.hideWords.addEventListener('click', () => {
  clearSettings();
  el.showWords.focus();
});

el.exportBackup.addEventListener('click', async () => {
  const s = session;
  el.backupStatus.textContent = 'Encrypting your backup…';
  el.backupError.textContent = '';
  el.exportBackup.disabled = true;
  try {
    const bytes = await s.me.exportBackup();
    if (session !== s) return;
    const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `sotto-backup-${new Date().toISOString().slice(0, 10)}.sotto`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    el.backupStatus.textContent = `Backup saved as ${a.download}. Keep it with your recovery words.`;
  } catch (err) {
    if (session === s) {
      el.backupStatus.textContent = '';
      el.backupError.textContent = errorText(err);
    }
  } finally {
    el.exportBackup.disabled = false;
  }
});

el.relayForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  el.directoryStatus.textContent = '';
  el.directoryError.textContent = '';
  let url;
  try {
    url = new URL(el.directoryUrl.value.trim(), location.href);
    if (!/^https?:$/.test(url.protocol)) throw new Error('not http');
  } catch {
    el.directoryError.textContent = 'That is not a web address (https://…).';
    el.directoryUrl.focus();
    return;
  }
  el.saveDirectory.disabled = true;
  el.directoryStatus.textContent = 'Checking the directory…';
  try {
    const response = await fetch(url, { cache: 'no-store' });
    const doc = response.ok ? await response.json() : null;
    if (!Array.isArray(doc?.relays) || doc.relays.length === 0) throw new Error('no relays');
    const value = url.href === `${location.origin}/directory.json` ? null : url.href;
    if (value) localStorage.setItem(DIRECTORY_KEY, value);
    else localStorage.removeItem(DIRECTORY_KEY);
    el.directoryUrl.value = url.href;
    el.directoryStatus.textContent = `Saved: ${doc.relays.length} relays. Sotto uses them the next time it opens.`;
  } catch {
    el.directoryStatus.textContent = '';
    el.directoryError.textContent = 'Sotto could not read a relay directory at that address (or this site does not allow it).';
    el.directoryUrl.focus();
  } finally {
    el.saveDirectory.disabled = false;
  }
});

el.deleteProfile.addEventListener('click', () => {
  el.deleteProfile.hidden = true;
  el.deleteConfirm.hidden = false;
  el.deleteCancel.focus();
});
el.deleteCancel.addEventListener('click', () => {
  el.deleteConfirm.hidden = true;
  el.deleteProfile.hidden = false;
  el.deleteProfile.focus();
});
el.deleteYes.addEventListener('click', async () => {
  const s = session;
  el.deleteYes.disabled = true;
  el.deleteError.textContent = '';
  try {
    await s.me.wipe();
    saved = null;
    session = null; // already closed by wipe()
    await forgetDevice();
    await endSession({ locked: false });
    el.status.textContent = `Your profile was deleted from this device. Sotto ${version()} is ready.`;
  } catch (err) {
    el.deleteError.textContent = errorText(err);
  } finally {
    el.deleteYes.disabled = false;
  }
});

// ---------- QR scanning (where the browser can: BarcodeDetector and a camera) ----------

const canScan = 'BarcodeDetector' in window && !!navigator.mediaDevices?.getUserMedia;
el.scan.hidden = !canScan;
let scanning = null; // {stream, timer}

el.scan.addEventListener('click', async () => {
  if (scanning) return;
  el.pasteError.textContent = '';
  try {
    const detector = new window.BarcodeDetector({ formats: ['qr_code'] });
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
    scanning = { stream, timer: 0 };
    el.scannerVideo.srcObject = stream;
    el.scanner.hidden = false;
    el.scan.hidden = true;
    el.pasteStatus.textContent = 'Point the camera at the invitation’s QR code.';
    await el.scannerVideo.play().catch(() => {});
    el.scanStop.focus();
    const look = async () => {
      if (!scanning || scanning.stream !== stream) return;
      try {
        const codes = await detector.detect(el.scannerVideo);
        const link = codes.map((c) => c.rawValue).find((v) => v?.includes('#/invite/'));
        if (link) {
          stopScanning();
          el.linkIn.value = link;
          el.pasteStatus.textContent = 'Invitation scanned. Connect to start chatting.';
          el.connect.focus();
          return;
        }
      } catch { /* a frame that could not be read */ }
      if (scanning?.stream === stream) scanning.timer = setTimeout(look, 250);
    };
    look();
  } catch (err) {
    stopScanning();
    el.pasteStatus.textContent = '';
    el.pasteError.textContent = `Sotto could not use the camera: ${err?.message ?? err}`;
  }
});
el.scanStop.addEventListener('click', () => { stopScanning(); el.scan.focus(); });

function stopScanning() {
  if (scanning) {
    clearTimeout(scanning.timer);
    for (const t of scanning.stream.getTracks()) t.stop();
    scanning = null;
  }
  el.scannerVideo.srcObject = null;
  el.scanner.hidden = true;
  el.scan.hidden = !canScan;
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
