// The messenger screen as a whole: entering it with an opened Sotto (loading contacts and the
// newest messages), the top bar (name, "Not saved" badge, End session / Lock), and leaving it
// with nothing left on screen.
import { version } from '/pkg/sotto.js';
import { PAGE, state, newSession, upsertContact, fromApi } from '/web/store.js';
import { byId, clearText, showNotice, clearNotice, showConnection } from '/web/dom.js';
import { errorText, prepareFormats } from '/web/format.js';
import { forgetDevice } from '/web/device.js';
import { showPane } from '/web/panes.js';
import { renderList, clearList } from '/web/chat-list.js';
import { clearConversation } from '/web/conversation.js';
import { clearComposer } from '/web/composer.js';
import { listen } from '/web/events.js';
import { openNewChat, showPaste, clearNewChat } from '/web/invitation.js';
import { clearSettings, showSettingsFor } from '/web/settings.js';
import {
  setStatus, showUnlock, showWelcomeForm, clearPassphrase, clearWelcome,
} from '/web/welcome.js';

const el = {
  welcome: byId('welcome'), messenger: byId('messenger'), meName: byId('me-name'),
  badge: byId('kiosk-badge'), endSession: byId('end-session'), lock: byId('lock'),
  newChat: byId('new-chat'),
};

/// Shows the messenger for the opened Sotto `me` (`kiosk`: used without saving).
export async function enterMessenger(me, kiosk, displayName) {
  clearPassphrase();
  state.session = newSession(me, kiosk);
  const { session } = state;
  listen(me, session);
  // A saved profile may open offline: its chats are readable, and it connects when it can.
  showConnection(me.connection);
  el.meName.textContent = displayName;
  el.badge.hidden = !kiosk;
  el.endSession.hidden = !kiosk;
  el.lock.hidden = kiosk;
  showSettingsFor(kiosk);
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
  prepareFormats();
  showPane('empty');
  if (state.pendingInvite) {
    openNewChat();
    showPaste(state.pendingInvite);
    state.pendingInvite = null;
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
export async function endSession({ locked }) {
  const s = state.session;
  state.session = null;
  if (s) {
    try { await s.me.close(); } catch { /* already closed */ }
  }
  // Leave nothing on screen either.
  clearList();
  clearConversation();
  clearComposer();
  clearNewChat();
  clearSettings();
  clearNotice();
  clearText(el.meName);
  clearWelcome();
  document.title = 'Sotto';
  el.badge.hidden = true;
  el.endSession.hidden = true;
  el.lock.hidden = true;
  el.messenger.hidden = true;
  el.welcome.hidden = false;
  document.body.dataset.screen = 'welcome';
  document.body.dataset.view = 'list';
  delete document.body.dataset.kiosk;
  if (locked && state.saved) {
    setStatus(`Locked. Your chats stay saved on this device. Sotto ${version()} is ready.`);
    showUnlock();
  } else {
    setStatus(`Session ended; nothing was kept. Sotto ${version()} is ready.`);
    if (!state.saved) await forgetDevice();
    if (state.saved) showUnlock();
    else showWelcomeForm();
  }
}

// A session used without saving also leaves nothing when the tab closes.
window.addEventListener('pagehide', () => {
  if (state.session?.kiosk && !state.saved) forgetDevice();
});
