// The messenger screen as a whole: entering it with an opened Sotto (loading contacts and the
// newest messages) or with a follower of the tab that has the profile open, the top bar (name,
// "Not saved" badge, End session / Lock), and leaving it with nothing left on screen.
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
  setStatus, showUnlock, showWelcomeForm, clearPassphrase, clearWelcome, openSaved,
} from '/web/welcome.js';

const el = {
  welcome: byId('welcome'), messenger: byId('messenger'), meName: byId('me-name'),
  badge: byId('kiosk-badge'), endSession: byId('end-session'), lock: byId('lock'),
  newChat: byId('new-chat'), followBanner: byId('follow-banner'),
};

/// Shows the messenger for the opened Sotto `me` (`kiosk`: used without saving; `following`:
/// `me` is a follower of the tab that has the profile open, pkg/follow.js).
export async function enterMessenger(me, kiosk, displayName, { following = false } = {}) {
  clearPassphrase();
  state.session = newSession(me, kiosk);
  const { session } = state;
  listen(me, session);
  el.followBanner.hidden = !following;
  if (following) {
    document.body.dataset.following = 'true';
    me.addEventListener('leader', (e) => onLeader(me, e.detail?.state));
  }
  // A saved profile may open offline: its chats are readable, and it connects when it can.
  showConnection(me.connection);
  el.meName.textContent = displayName;
  el.badge.hidden = !kiosk;
  el.endSession.hidden = !kiosk;
  el.lock.hidden = kiosk;
  // A follower's Lock only leaves this tab: the profile stays open (unlocked) in the tab it
  // follows, so it says so instead of promising a lock.
  el.lock.textContent = following ? 'Leave this tab' : 'Lock';
  el.lock.title = following ? 'The profile stays open in the other tab; lock it there.' : '';
  showSettingsFor(kiosk, following);
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

/// The tab this one followed (`me`) no longer has the profile open (`'gone'`): the screen is
/// cleared, and once its lock is free (`'free'`) this tab opens the profile (or asks for its
/// passphrase).
async function onLeader(me, leader) {
  if (leader === 'gone' && state.session?.me === me) {
    // Still waiting for the lock: not closed.
    state.follower = me;
    await endSession({ locked: true, closing: false });
    setStatus('The tab this one followed no longer has the profile open.');
  } else if (leader === 'free' && state.follower === me) {
    state.follower = null;
    if (state.session) return;
    if (state.saved?.passphrase) showUnlock();
    else await openSaved(null);
  }
}

el.endSession.addEventListener('click', () => endSession({ locked: false }));
el.lock.addEventListener('click', () => endSession({ locked: true }));

/// Closes the Sotto (unless `closing` is false) and clears the screen. `locked`: the saved
/// profile stays on this device and the unlock screen follows; otherwise the session (used
/// without saving) is gone, and a device without a saved profile is left with nothing of Sotto
/// (`forgetDevice`).
export async function endSession({ locked, closing = true }) {
  const s = state.session;
  state.session = null;
  if (s && closing) {
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
  el.followBanner.hidden = true;
  delete document.body.dataset.following;
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
